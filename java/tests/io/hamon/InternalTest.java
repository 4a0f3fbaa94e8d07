package io.hamon;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.contains;
import static io.hamon.tests.Assert.equal;
import static io.hamon.tests.Assert.raises;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashSet;
import java.util.Properties;
import java.util.Set;

/** What only the package can see: the panic boundary and the native status texts. */
public final class InternalTest {
    private InternalTest() {}

    public static void testAPanicInNativeCodeBecomesAHamonException() {
        HamonException panic = raises(HamonException.class, Native::panicForTest);
        equal(HamonException.PANIC, panic.code(), "code");
        equal("internal error inside hamon", panic.statusText(), "status text");
        contains(panic.getMessage(), "internal error (panic) inside hamon: panicForTest was called",
                "detail");
        // The JVM and the library still work.
        Properties settings = new Properties();
        settings.setProperty("ha.port", "0");
        try (HaServer server = HaServer.start(settings)) {
            check(server.port() > 0, "a server after the panic");
        }
        raises(HamonException.class, Native::panicForTest);
    }

    public static void testEveryStatusConstantHasItsOwnNativeText() throws IllegalAccessException {
        Set<String> texts = new HashSet<>();
        for (Field field : HamonException.class.getFields()) {
            if (field.getType() != int.class || !Modifier.isStatic(field.getModifiers())) {
                continue;
            }
            int code = field.getInt(null);
            String text = Native.statusText(code);
            check(!text.equals("unknown status code"), field.getName() + " (" + code + ")");
            check(texts.add(text), "a text of its own for " + field.getName());
        }
        check(texts.size() == 28, "every HA_ERR_* and HB_ERR_* code: " + texts.size());
        equal("unknown status code", Native.statusText(999_999), "an unknown code");
        equal("unknown status code", Native.statusText(-1), "a negative code");
    }
}
