package io.hamon.tests;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A plain socket client of the line protocol, to see what a cluster manager sees. */
public final class Wire {
    private Wire() {}

    /** Sends one command and returns the first reply line. */
    public static String ask(int port, String command) {
        return exchange(port, command, false);
    }

    /** Sends a command whose reply ends with a line {@code .} and returns it all. */
    public static String askAll(int port, String command) {
        return exchange(port, command, true);
    }

    private static String exchange(int port, String command, boolean untilDot) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            out.write((command + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            if (!untilDot) {
                return in.readLine();
            }
            StringBuilder reply = new StringBuilder();
            for (String line = in.readLine(); line != null && !line.equals("."); line = in.readLine()) {
                reply.append(line).append('\n');
            }
            return reply.toString();
        } catch (IOException e) {
            throw new UncheckedIOException("port " + port + ": " + command, e);
        }
    }

    /** Whether something accepts connections on the port. */
    public static boolean listening(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
