// A plain Java socket client doing what ha-probe does, standing in for a Java ha.jar probe:
// connect, send "check", read one line, send "quit", exit 110 when the state is UP or
// DEGRADED, else 100 (the VCS convention).
//
// Usage: java HaProbe HOST PORT TIMEOUT_MS

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public final class HaProbe {
    public static void main(String[] args) {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        int timeoutMs = Integer.parseInt(args[2]);
        int code = 100;
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), timeoutMs);
            socket.setSoTimeout(timeoutMs);
            OutputStream out = socket.getOutputStream();
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            out.write("check\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String line = in.readLine();
            out.write("quit\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            if (line != null) {
                System.out.println(line);
                if (line.startsWith("UP ") || line.startsWith("DEGRADED ")) {
                    code = 110;
                }
            } else {
                System.out.println("FAILED: no reply");
            }
        } catch (Exception e) {
            System.out.println("FAILED: " + e);
        }
        System.exit(code);
    }
}
