package io.hamon.tests;

import io.hamon.AdminState;
import io.hamon.CheckOptions;
import io.hamon.HamonException;
import io.hamon.HealthState;
import io.hamon.Heartbeat;
import io.hamon.ServerState;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

/**
 * Prints every number the Java API shares with the C API as {@code C_NAME=value}, for the
 * test that compares them with include/hamon.h.
 */
public final class PrintCodes {
    private PrintCodes() {}

    public static void main(String[] args) throws IllegalAccessException {
        print("HA_CHECK_", HealthState.values());
        print("HA_STATE_", ServerState.values());
        print("HA_ADMIN_", AdminState.values());
        print("HA_IMPORTANCE_", CheckOptions.Importance.values());
        print("HB_ROLE_", Heartbeat.Role.values());
        print("HB_ACTION_", Heartbeat.Action.values());
        print("HB_MAINT_", Heartbeat.Maintenance.values());
        print("HB_STATE_", Heartbeat.NodeState.values());
        print("HB_LIVENESS_", Heartbeat.Liveness.values());
        for (Field field : HamonException.class.getFields()) {
            if (field.getType() == int.class && Modifier.isStatic(field.getModifiers())) {
                String name = field.getName();
                String c = name.startsWith("HEARTBEAT_")
                        ? "HB_ERR_" + name.substring("HEARTBEAT_".length())
                        : "HA_ERR_" + name;
                System.out.println(c + "=" + field.getInt(null));
            }
        }
    }

    private static void print(String prefix, Enum<?>[] values) {
        for (Enum<?> value : values) {
            System.out.println(prefix + value.name() + "=" + value.ordinal());
        }
    }
}
