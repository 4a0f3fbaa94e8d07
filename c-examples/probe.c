/*
 * probe: asks a hamon monitor server for its state, as a cluster manager's monitor
 * script would, using ha_probe (or ha_probe_check for one named check).
 *
 * Usage: probe HOST PORT [TIMEOUT_MS] [CHECK_NAME]
 *
 * Prints one line:
 *   state=<WORD> rtt_us=N checks=OK/TOTAL line=<the server's reply line>
 * (checks=-1/-1 when the reply carries no checks= field, as for a named check).
 *
 * Exit status: 0 UP or DEGRADED, 1 any other state (DOWN, STARTING, DRAINING, MAINT,
 * STOPPING), 2 the probe failed (refused, timeout, bad reply, ...; printed as
 * "error: <status> (<code>): <detail>"), 3 usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hamon.h"

enum { EXIT_AVAILABLE = 0, EXIT_UNAVAILABLE = 1, EXIT_PROBE_ERROR = 2, EXIT_USAGE = 3 };

static const char *state_word(uint32_t state) {
  switch (state) {
  case HA_STATE_UP:
    return "UP";
  case HA_STATE_DEGRADED:
    return "DEGRADED";
  case HA_STATE_DOWN:
    return "DOWN";
  case HA_STATE_STARTING:
    return "STARTING";
  case HA_STATE_DRAINING:
    return "DRAINING";
  case HA_STATE_MAINT:
    return "MAINT";
  case HA_STATE_STOPPING:
    return "STOPPING";
  default:
    return "UNKNOWN";
  }
}

/* Parses a whole decimal number in [min, max]; returns 0 on success. */
static int parse_uint(const char *text, unsigned long min, unsigned long max,
                      unsigned long *out) {
  char *end = NULL;
  unsigned long value;
  if (text[0] < '0' || text[0] > '9') {
    return -1; /* strtoul would accept " 12" and "-1" */
  }
  errno = 0;
  value = strtoul(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > max) {
    return -1;
  }
  *out = value;
  return 0;
}

static int usage(const char *argv0) {
  fprintf(stderr, "usage: %s HOST PORT [TIMEOUT_MS] [CHECK_NAME]\n", argv0);
  return EXIT_USAGE;
}

int main(int argc, char **argv) {
  const char *host = NULL;
  const char *check_name = NULL;
  unsigned long port = 0;
  unsigned long timeout_ms = 1000;
  ha_probe_result result;
  char detail[512];
  ha_status rc;

  if (argc < 3 || argc > 5) {
    return usage(argv[0]);
  }
  host = argv[1];
  if (parse_uint(argv[2], 1, 65535, &port) != 0) {
    fprintf(stderr, "probe: PORT must be 1-65535, not \"%s\"\n", argv[2]);
    return usage(argv[0]);
  }
  /* 0 is passed on: the library refuses it (HA_ERR_INVALID_ARG), exit 2. */
  if (argc >= 4 && parse_uint(argv[3], 0, UINT32_MAX, &timeout_ms) != 0) {
    fprintf(stderr, "probe: TIMEOUT_MS must be a number of milliseconds, not \"%s\"\n",
            argv[3]);
    return usage(argv[0]);
  }
  if (argc == 5) {
    check_name = argv[4];
  }

  if (check_name != NULL) {
    rc = ha_probe_check(host, (uint16_t)port, (uint32_t)timeout_ms, check_name, &result);
  } else {
    rc = ha_probe(host, (uint16_t)port, (uint32_t)timeout_ms, &result);
  }
  if (rc != HA_OK) {
    if (ha_last_error(detail, sizeof detail, NULL) != HA_OK) {
      detail[0] = '\0';
    }
    printf("error: %s (%u): %s\n", ha_status_str(rc), (unsigned)rc, detail);
    return EXIT_PROBE_ERROR;
  }

  printf("state=%s rtt_us=%llu checks=%d/%d line=%s\n", state_word(result.state),
         (unsigned long long)result.rtt_us, (int)result.checks_ok,
         (int)result.checks_total, result.line);
  if (result.state == HA_STATE_UP || result.state == HA_STATE_DEGRADED) {
    return EXIT_AVAILABLE;
  }
  return EXIT_UNAVAILABLE;
}
