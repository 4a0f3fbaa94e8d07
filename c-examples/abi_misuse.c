/*
 * abi_misuse: calls every function of hamon.h with the bad arguments a careless C caller
 * could pass (NULL pointers, out-of-range enumerations, invalid UTF-8, names that cannot
 * travel on the wire, zero timeouts, tiny buffers, ...) and checks that each is refused
 * with the status the header documents, that ha_last_error explains it, and that
 * out-parameters are left alone on failure. A crash is a failure too: the test that runs
 * this program wants exit status 0 and the summary line.
 *
 * Usage: abi_misuse
 * Environment: TMPDIR (where two small properties files are written; default /tmp).
 *
 * Prints "abi_misuse: N checks passed" and exits 0, or prints every failed expectation
 * with file:line and exits 1.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hamon.h"

#define HOST "127.0.0.1"

static unsigned passed = 0;
static unsigned failed = 0;

/* The detail of the last status checked by EXPECT_STATUS (ha_last_error's text). */
static char detail[1024];

static void expect_true(int ok, const char *what, const char *file, int line) {
  if (ok) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "%s:%d: expectation failed: %s\n", file, line, what);
  }
}

static void expect_status(ha_status got, ha_status want, const char *needle,
                          const char *call, const char *file, int line) {
  if (ha_last_error(detail, sizeof detail, NULL) != HA_OK) {
    strcpy(detail, "(ha_last_error failed)");
  }
  if (got != want) {
    failed++;
    fprintf(stderr, "%s:%d: %s\n    returned %s (%u), expected %s (%u); detail: %s\n", file,
            line, call, ha_status_str(got), (unsigned)got, ha_status_str(want),
            (unsigned)want, detail);
    return;
  }
  passed++;
  if (needle != NULL) {
    expect_true(strstr(detail, needle) != NULL, "ha_last_error names the problem", file,
                line);
    if (strstr(detail, needle) == NULL) {
      fprintf(stderr, "    after %s: detail \"%s\" does not contain \"%s\"\n", call, detail,
              needle);
    }
  }
}

/* CALL must return WANT. */
#define EXPECT_STATUS(call, want) expect_status((call), (want), NULL, #call, __FILE__, __LINE__)
/* CALL must fail with WANT, and ha_last_error must then contain NEEDLE. */
#define EXPECT_FAIL(call, want, needle)                                                    \
  expect_status((call), (want), (needle), #call, __FILE__, __LINE__)
#define EXPECT(cond) expect_true((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

/* ---- callbacks ------------------------------------------------------------------- */

static uint32_t up_check(void *userdata, char *reason, size_t reason_cap) {
  (void)userdata;
  (void)reason;
  (void)reason_cap;
  return HA_CHECK_UP;
}

/* A careless check: returns a value that is not an HA_CHECK_*. */
static uint32_t garbage_check(void *userdata, char *reason, size_t reason_cap) {
  (void)userdata;
  snprintf(reason, reason_cap, "this reason must be replaced");
  return 12345;
}

/* A careless check: fills the whole reason buffer and leaves no NUL in it. */
static uint32_t unterminated_check(void *userdata, char *reason, size_t reason_cap) {
  (void)userdata;
  memset(reason, 'x', reason_cap);
  return HA_CHECK_DOWN;
}

static atomic_uint log_calls;
static atomic_uint bad_log_calls;

static void count_log(void *userdata, uint32_t level, const char *message) {
  (void)userdata;
  if (level < HA_LOG_ERROR || level > HA_LOG_TRACE || message == NULL) {
    atomic_fetch_add(&bad_log_calls, 1);
  }
  atomic_fetch_add(&log_calls, 1);
}

/* ---- helpers --------------------------------------------------------------------- */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

/* Polls ha_server_state until it reports WANT, for at most 5 s. */
static int wait_for_state(const ha_server *srv, uint32_t want) {
  long long deadline = now_ms() + 5000;
  uint32_t state = UINT32_MAX;
  while (now_ms() < deadline) {
    if (ha_server_state(srv, &state) == HA_OK && state == want) {
      return 1;
    }
    sleep_ms(20);
  }
  fprintf(stderr, "    state is %u, waited in vain for %u\n", (unsigned)state, (unsigned)want);
  return 0;
}

/* Polls `check NAME` until the check is DOWN with a reason containing NEEDLE (5 s). */
static int wait_for_check_down(uint16_t port, const char *name, const char *needle,
                               ha_probe_result *res) {
  long long deadline = now_ms() + 5000;
  while (now_ms() < deadline) {
    if (ha_probe_check(HOST, port, 1000, name, res) == HA_OK &&
        res->state == HA_STATE_DOWN && strstr(res->reason, needle) != NULL) {
      return 1;
    }
    sleep_ms(20);
  }
  fprintf(stderr, "    check %s never went DOWN with \"%s\"; last line: %s\n", name, needle,
          res->line);
  return 0;
}

/* Creates a file in $TMPDIR holding TEXT; PATH receives its name. 0 on success. */
static int write_temp(char *path, size_t cap, const char *text) {
  const char *dir = getenv("TMPDIR");
  FILE *f;
  int fd;
  snprintf(path, cap, "%s/abi_misuse_XXXXXX", dir != NULL && *dir != '\0' ? dir : "/tmp");
  fd = mkstemp(path);
  if (fd < 0) {
    path[0] = '\0';
    return -1;
  }
  f = fdopen(fd, "w");
  if (f == NULL) {
    close(fd);
    return -1;
  }
  fputs(text, f);
  return fclose(f) == 0 ? 0 : -1;
}

/* Runs on a second thread: ha_last_error is per thread, so it has nothing to say here. */
static void *other_thread_last_error(void *arg) {
  size_t *len = arg;
  char buf[64];
  if (ha_last_error(buf, sizeof buf, len) != HA_OK || buf[0] != '\0') {
    *len = SIZE_MAX;
  }
  return NULL;
}

int main(void) {
  ha_config *cfg = NULL;     /* a usable configuration (ha.port=0) */
  ha_config *cfg_off = NULL; /* ha.enabled=false */
  ha_config *cfg_bare = NULL; /* no ha.port */
  ha_config *cfg_busy = NULL; /* the port srv already has */
  ha_server *srv = NULL;
  ha_server *srv_gone = NULL; /* started and stopped, for a closed port */
  char props_path[256] = "";
  char latin1_path[256] = "";
  char name65[66];
  char name64[65];
  char port_text[16];
  char buf[64];
  size_t len = 0;
  size_t full_len = 0;
  uint32_t state = 0;
  uint16_t port = 0;
  uint16_t gone_port = 0;
  ha_check_options opts;
  ha_check_options quiet;
  ha_probe_result res;
  ha_probe_result sentinel;
  ha_server *srv_sentinel = (ha_server *)&sentinel;
  ha_server *srv_out = NULL;
  pthread_t thread;
  unsigned logs_before;
  int i;
  int ret = 1;

  memset(name65, 'a', 65);
  name65[65] = '\0';
  memset(name64, 'b', 64);
  name64[64] = '\0';
  memset(&sentinel, 0xA5, sizeof sentinel);

  /* ---- static answers --------------------------------------------------------- */
  EXPECT(ha_version() != NULL && ha_version()[0] != '\0');
  EXPECT(strcmp(ha_status_str(HA_OK), "ok") == 0);
  EXPECT(strcmp(ha_status_str(HA_ERR_NULL_ARG), "unknown status code") != 0);
  EXPECT(strcmp(ha_status_str(HA_ERR_PROBE_UNKNOWN_CHECK), "unknown status code") != 0);
  EXPECT(ha_status_str(1) != NULL && strcmp(ha_status_str(1), "unknown status code") == 0);
  EXPECT(ha_status_str(999) != NULL && strcmp(ha_status_str(999), "unknown status code") == 0);
  EXPECT(ha_status_str(5999) != NULL && strcmp(ha_status_str(5999), "unknown status code") == 0);
  EXPECT(ha_status_str(UINT32_MAX) != NULL &&
         strcmp(ha_status_str(UINT32_MAX), "unknown status code") == 0);

  /* ---- ha_config ---------------------------------------------------------------- */
  EXPECT_FAIL(ha_config_new(NULL), HA_ERR_NULL_ARG, "out");
  EXPECT_STATUS(ha_config_new(&cfg), HA_OK);
  EXPECT_STATUS(ha_config_new(&cfg_off), HA_OK);
  EXPECT_STATUS(ha_config_new(&cfg_bare), HA_OK);
  EXPECT_STATUS(ha_config_new(&cfg_busy), HA_OK);
  if (cfg == NULL || cfg_off == NULL || cfg_bare == NULL || cfg_busy == NULL) {
    fprintf(stderr, "abi_misuse: cannot go on without configurations\n");
    goto cleanup;
  }

  EXPECT_FAIL(ha_config_set(NULL, "ha.port", "0"), HA_ERR_NULL_ARG, "cfg");
  EXPECT_FAIL(ha_config_set(cfg, NULL, "0"), HA_ERR_NULL_ARG, "key");
  EXPECT_FAIL(ha_config_set(cfg, "ha.port", NULL), HA_ERR_NULL_ARG, "value");
  EXPECT_FAIL(ha_config_set(cfg, "ha.prot", "0"), HA_ERR_CONFIG_UNKNOWN_KEY, "ha.prot");
  EXPECT_FAIL(ha_config_set(cfg, "ha.nonsense", "0"), HA_ERR_CONFIG_UNKNOWN_KEY,
              "ha.nonsense");
  EXPECT_FAIL(ha_config_set(cfg, "server.port", "0"), HA_ERR_CONFIG_UNKNOWN_KEY,
              "server.port");
  EXPECT_FAIL(ha_config_set(cfg, "", "0"), HA_ERR_CONFIG_UNKNOWN_KEY, NULL);
  EXPECT_FAIL(ha_config_set(cfg, "ha.port", "70000"), HA_ERR_CONFIG_BAD_VALUE, "ha.port");
  EXPECT_FAIL(ha_config_set(cfg, "ha.port", "-1"), HA_ERR_CONFIG_BAD_VALUE, "ha.port");
  EXPECT_FAIL(ha_config_set(cfg, "ha.port", ""), HA_ERR_CONFIG_BAD_VALUE, "ha.port");
  EXPECT_FAIL(ha_config_set(cfg, "ha.port", "12ab"), HA_ERR_CONFIG_BAD_VALUE, "ha.port");
  EXPECT_FAIL(ha_config_set(cfg, "ha.enabled", "maybe"), HA_ERR_CONFIG_BAD_VALUE,
              "ha.enabled");
  EXPECT_FAIL(ha_config_set(cfg, "ha.\xff\xfe", "0"), HA_ERR_INVALID_UTF8, "key");
  EXPECT_FAIL(ha_config_set(cfg, "ha.port", "\xc3\x28"), HA_ERR_INVALID_UTF8, "value");
  EXPECT_STATUS(ha_config_set(cfg, "ha.port", "0"), HA_OK);
  EXPECT_STATUS(ha_config_set(cfg_off, "ha.port", "0"), HA_OK);
  EXPECT_STATUS(ha_config_set(cfg_off, "ha.enabled", "false"), HA_OK);

  /* ---- ha_last_error: kept until the next failure, per thread, cut safely -------- */
  EXPECT_FAIL(ha_config_set(cfg, "ha.port", "70000"), HA_ERR_CONFIG_BAD_VALUE, "70000");
  EXPECT_STATUS(ha_config_set(cfg, "ha.port", "0"), HA_OK); /* success: detail stays */
  EXPECT_STATUS(ha_last_error(detail, sizeof detail, &full_len), HA_OK);
  EXPECT(strstr(detail, "70000") != NULL);
  EXPECT(full_len == strlen(detail) && full_len > 8);
  EXPECT_STATUS(ha_last_error(detail, sizeof detail, NULL), HA_OK); /* out_len nullable */

  memset(buf, '#', sizeof buf);
  len = 0;
  EXPECT_STATUS(ha_last_error(buf, 1, &len), HA_OK);
  EXPECT(buf[0] == '\0' && buf[1] == '#');
  EXPECT(len == full_len);

  memset(buf, '#', sizeof buf);
  len = 0;
  EXPECT_STATUS(ha_last_error(buf, 8, &len), HA_OK);
  EXPECT(strlen(buf) == 7 && strncmp(buf, detail, 7) == 0 && buf[8] == '#');
  EXPECT(len == full_len);

  len = 0;
  EXPECT(pthread_create(&thread, NULL, other_thread_last_error, &len) == 0 &&
         pthread_join(thread, NULL) == 0);
  EXPECT(len == 0); /* nothing failed on that thread */

  memset(buf, '#', sizeof buf);
  len = 4242;
  EXPECT_STATUS(ha_last_error(buf, 0, &len), HA_ERR_INVALID_ARG);
  EXPECT(buf[0] == '#' && len == 4242); /* nothing written */
  EXPECT_STATUS(ha_last_error(NULL, sizeof buf, &len), HA_ERR_NULL_ARG);
  EXPECT(len == 4242);
  EXPECT_STATUS(ha_last_error(NULL, 0, NULL), HA_ERR_NULL_ARG);
  /* Misusing ha_last_error keeps the detail the caller was after. */
  EXPECT_STATUS(ha_last_error(buf, sizeof buf, NULL), HA_OK);
  EXPECT(strcmp(buf, detail) == 0);

  /* ---- ha_config_load_file ------------------------------------------------------ */
  if (write_temp(props_path, sizeof props_path,
                 "# an application's own file; other keys are ignored\n"
                 "app.threads=4\n"
                 "ha.enabled=false\n"
                 "ha.bogus=1\n") != 0 ||
      write_temp(latin1_path, sizeof latin1_path, "ha.app_name=caf\xe9\n") != 0) {
    fprintf(stderr, "abi_misuse: cannot write temporary files\n");
    goto cleanup;
  }
  EXPECT_FAIL(ha_config_load_file(NULL, props_path), HA_ERR_NULL_ARG, "cfg");
  EXPECT_FAIL(ha_config_load_file(cfg, NULL), HA_ERR_NULL_ARG, "path");
  EXPECT_FAIL(ha_config_load_file(cfg, "/nonexistent/abi-misuse.properties"),
              HA_ERR_CONFIG_FILE, "/nonexistent/abi-misuse.properties");
  EXPECT_FAIL(ha_config_load_file(cfg, "/"), HA_ERR_CONFIG_FILE, NULL);
  EXPECT_FAIL(ha_config_load_file(cfg, "/tmp/\xff.properties"), HA_ERR_INVALID_UTF8, "path");
  EXPECT_FAIL(ha_config_load_file(cfg, latin1_path), HA_ERR_CONFIG_SYNTAX, "UTF-8");
  /* All or nothing: ha.enabled=false on line 3 must not stick when line 4 fails. */
  EXPECT_FAIL(ha_config_load_file(cfg, props_path), HA_ERR_CONFIG_UNKNOWN_KEY, "ha.bogus");
  EXPECT(strstr(detail, props_path) != NULL && strstr(detail, ":4") != NULL);

  /* ---- ha_server_start ---------------------------------------------------------- */
  srv_out = srv_sentinel;
  EXPECT_FAIL(ha_server_start(NULL, &srv_out), HA_ERR_NULL_ARG, "cfg");
  EXPECT(srv_out == srv_sentinel);
  EXPECT_FAIL(ha_server_start(cfg, NULL), HA_ERR_NULL_ARG, "out");
  EXPECT_FAIL(ha_server_start(cfg_bare, &srv_out), HA_ERR_CONFIG_MISSING, "ha.port");
  EXPECT(srv_out == srv_sentinel);
  EXPECT_FAIL(ha_server_start(cfg_off, &srv_out), HA_ERR_DISABLED, "ha.enabled");
  EXPECT(srv_out == srv_sentinel);

  EXPECT_STATUS(ha_server_start(cfg, &srv), HA_OK); /* enabled: the file did not stick */
  if (srv == NULL) {
    fprintf(stderr, "abi_misuse: cannot go on without a server\n");
    goto cleanup;
  }
  port = ha_server_port(srv);
  EXPECT(port != 0);
  EXPECT(ha_server_port(NULL) == 0);

  snprintf(port_text, sizeof port_text, "%u", (unsigned)port);
  EXPECT_STATUS(ha_config_set(cfg_busy, "ha.port", port_text), HA_OK);
  EXPECT_FAIL(ha_server_start(cfg_busy, &srv_out), HA_ERR_BIND, "cannot listen");
  EXPECT(srv_out == srv_sentinel);

  /* A closed port: a server that was started and stopped again. */
  EXPECT_STATUS(ha_server_start(cfg, &srv_gone), HA_OK);
  gone_port = ha_server_port(srv_gone);
  ha_server_stop(srv_gone);
  srv_gone = NULL;

  /* ---- ha_check_options_init / ha_server_add_check ------------------------------- */
  EXPECT_FAIL(ha_check_options_init(NULL), HA_ERR_NULL_ARG, "opts");
  EXPECT_STATUS(ha_check_options_init(&opts), HA_OK);
  EXPECT(opts.interval_ms == 1000 && opts.timeout_ms == 1000 && opts.rise == 2 &&
         opts.fall == 3 && opts.importance == HA_IMPORTANCE_CRITICAL &&
         opts.latency_warn_ms == 0 && opts.latency_crit_ms == 0);
  opts.interval_ms = 50;
  opts.rise = 1;
  opts.fall = 1;
  quiet = opts;
  quiet.interval_ms = 60000;

  EXPECT_FAIL(ha_server_add_check(NULL, "ok", up_check, NULL, &opts), HA_ERR_NULL_ARG, "srv");
  EXPECT_FAIL(ha_server_add_check(srv, NULL, up_check, NULL, &opts), HA_ERR_NULL_ARG, "name");
  EXPECT_FAIL(ha_server_add_check(srv, "ok", NULL, NULL, &opts), HA_ERR_NULL_ARG, "cb");
  EXPECT_FAIL(ha_server_add_check(srv, "", up_check, NULL, &opts), HA_ERR_INVALID_NAME, NULL);
  EXPECT_FAIL(ha_server_add_check(srv, "has space", up_check, NULL, &opts),
              HA_ERR_INVALID_NAME, "has space");
  EXPECT_FAIL(ha_server_add_check(srv, "semi;colon", up_check, NULL, &opts),
              HA_ERR_INVALID_NAME, NULL);
  EXPECT_FAIL(ha_server_add_check(srv, name65, up_check, NULL, &opts), HA_ERR_INVALID_NAME,
              NULL);
  EXPECT_FAIL(ha_server_add_check(srv, "caf\xc3", up_check, NULL, &opts),
              HA_ERR_INVALID_UTF8, "name");
  {
    ha_check_options bad = opts;
    bad.importance = 7;
    EXPECT_FAIL(ha_server_add_check(srv, "ok", up_check, NULL, &bad), HA_ERR_INVALID_ARG,
                "importance");
    bad = opts;
    bad.importance = UINT32_MAX;
    EXPECT_FAIL(ha_server_add_check(srv, "ok", up_check, NULL, &bad), HA_ERR_INVALID_ARG,
                "importance");
    bad = opts;
    bad.interval_ms = 0;
    EXPECT_FAIL(ha_server_add_check(srv, "ok", up_check, NULL, &bad), HA_ERR_INVALID_ARG,
                "interval_ms");
    bad = opts;
    bad.timeout_ms = 0;
    EXPECT_FAIL(ha_server_add_check(srv, "ok", up_check, NULL, &bad), HA_ERR_INVALID_ARG,
                "timeout_ms");
    bad = opts;
    bad.rise = 0;
    EXPECT_FAIL(ha_server_add_check(srv, "ok", up_check, NULL, &bad), HA_ERR_INVALID_ARG,
                "rise");
    bad = opts;
    bad.rise = 101;
    EXPECT_FAIL(ha_server_add_check(srv, "ok", up_check, NULL, &bad), HA_ERR_INVALID_ARG,
                "rise");
    bad = opts;
    bad.fall = 0;
    EXPECT_FAIL(ha_server_add_check(srv, "ok", up_check, NULL, &bad), HA_ERR_INVALID_ARG,
                "fall");
    bad = opts;
    bad.latency_warn_ms = 500;
    bad.latency_crit_ms = 500;
    EXPECT_FAIL(ha_server_add_check(srv, "ok", up_check, NULL, &bad), HA_ERR_INVALID_ARG,
                "latency_warn_ms");
  }
  EXPECT_STATUS(ha_server_add_check(srv, "ok", up_check, NULL, &opts), HA_OK);
  EXPECT_FAIL(ha_server_add_check(srv, "ok", up_check, NULL, &opts), HA_ERR_DUPLICATE_CHECK,
              "ok");
  EXPECT_STATUS(ha_server_add_check(srv, name64, up_check, NULL, NULL), HA_OK); /* defaults */

  /* ---- ready / state / admin / heartbeat ---------------------------------------- */
  state = 0xDEADBEEF;
  EXPECT_FAIL(ha_server_state(NULL, &state), HA_ERR_NULL_ARG, "srv");
  EXPECT(state == 0xDEADBEEF);
  EXPECT_FAIL(ha_server_state(srv, NULL), HA_ERR_NULL_ARG, "out_state");
  EXPECT_STATUS(ha_server_state(srv, &state), HA_OK);
  EXPECT(state == HA_STATE_STARTING);

  EXPECT_FAIL(ha_server_ready(NULL), HA_ERR_NULL_ARG, "srv");
  EXPECT_STATUS(ha_server_ready(srv), HA_OK);
  EXPECT_STATUS(ha_server_ready(srv), HA_OK); /* idempotent */
  EXPECT(wait_for_state(srv, HA_STATE_UP));

  EXPECT_FAIL(ha_server_set_state(NULL, HA_STATE_DOWN, "x"), HA_ERR_NULL_ARG, "srv");
  EXPECT_FAIL(ha_server_set_state(srv, HA_STATE_STARTING, "x"), HA_ERR_INVALID_ARG, "3");
  EXPECT_FAIL(ha_server_set_state(srv, 99, "x"), HA_ERR_INVALID_ARG, "99");
  EXPECT_FAIL(ha_server_set_state(srv, UINT32_MAX, NULL), HA_ERR_INVALID_ARG, "4294967295");
  EXPECT_FAIL(ha_server_set_state(srv, HA_STATE_DOWN, "bad \xff reason"),
              HA_ERR_INVALID_UTF8, "reason");
  EXPECT_FAIL(ha_server_set_admin(NULL, HA_ADMIN_MAINT, "x"), HA_ERR_NULL_ARG, "srv");
  EXPECT_FAIL(ha_server_set_admin(srv, 4, "x"), HA_ERR_INVALID_ARG, "4");
  EXPECT_FAIL(ha_server_set_admin(srv, UINT32_MAX, NULL), HA_ERR_INVALID_ARG, "4294967295");
  EXPECT_FAIL(ha_server_set_admin(srv, HA_ADMIN_MAINT, "\xc0\xaf"), HA_ERR_INVALID_UTF8,
              "reason");
  EXPECT_STATUS(ha_server_state(srv, &state), HA_OK);
  EXPECT(state == HA_STATE_UP); /* none of the refused calls changed anything */
  EXPECT_STATUS(ha_server_set_state(srv, HA_STATE_UP, NULL), HA_OK); /* reason nullable */
  EXPECT_STATUS(ha_server_set_admin(srv, HA_ADMIN_NONE, NULL), HA_OK);
  EXPECT_FAIL(ha_server_heartbeat(NULL), HA_ERR_NULL_ARG, "srv");
  EXPECT_STATUS(ha_server_heartbeat(srv), HA_OK);

  /* ---- counters ------------------------------------------------------------------ */
  EXPECT_FAIL(ha_counter_add(NULL, "tx", 1), HA_ERR_NULL_ARG, "srv");
  EXPECT_FAIL(ha_counter_add(srv, NULL, 1), HA_ERR_NULL_ARG, "name");
  EXPECT_FAIL(ha_counter_add(srv, "", 1), HA_ERR_INVALID_NAME, NULL);
  EXPECT_FAIL(ha_counter_add(srv, "has space", 1), HA_ERR_INVALID_NAME, "has space");
  EXPECT_FAIL(ha_counter_add(srv, name65, 1), HA_ERR_INVALID_NAME, NULL);
  EXPECT_FAIL(ha_counter_add(srv, "\xe2\x82", 1), HA_ERR_INVALID_UTF8, "name");
  EXPECT_STATUS(ha_counter_add(srv, name64, 1), HA_OK);
  EXPECT_STATUS(ha_counter_add(srv, "tx", UINT64_MAX), HA_OK);
  EXPECT_STATUS(ha_counter_add(srv, "tx", UINT64_MAX), HA_OK); /* no overflow crash */
  for (i = 0; i < 300; i++) {
    char name[16];
    ha_status rc;
    snprintf(name, sizeof name, "k%d", i);
    rc = ha_counter_add(srv, name, 1);
    if (rc != HA_OK) {
      EXPECT_STATUS(rc, HA_ERR_TOO_MANY_COUNTERS);
      break;
    }
  }
  EXPECT(i == 256 - 2); /* name64 and tx already exist */

  /* ---- probing ------------------------------------------------------------------- */
  res = sentinel;
  EXPECT_FAIL(ha_probe(NULL, port, 1000, &res), HA_ERR_NULL_ARG, "host");
  EXPECT_FAIL(ha_probe(HOST, port, 1000, NULL), HA_ERR_NULL_ARG, "out");
  EXPECT_FAIL(ha_probe(HOST, port, 0, &res), HA_ERR_INVALID_ARG, "timeout");
  EXPECT_FAIL(ha_probe(HOST, 0, 1000, &res), HA_ERR_INVALID_ARG, "port");
  EXPECT_FAIL(ha_probe("", port, 1000, &res), HA_ERR_INVALID_ARG, "host");
  EXPECT_FAIL(ha_probe("127.0.0.1 x", port, 1000, &res), HA_ERR_INVALID_ARG, "host");
  EXPECT_FAIL(ha_probe("\xff", port, 1000, &res), HA_ERR_INVALID_UTF8, "host");
  EXPECT_FAIL(ha_probe(HOST, gone_port, 1000, &res), HA_ERR_PROBE_REFUSED, "refused");
  {
    /* An unresolvable name: RESOLVE, or TIMEOUT when the resolver cannot answer in time
     * (no name server reachable). Both are documented outcomes; neither writes *out. */
    ha_status rc = ha_probe("no-such-host.invalid", port, 2000, &res);
    EXPECT(rc == HA_ERR_PROBE_RESOLVE || rc == HA_ERR_PROBE_TIMEOUT);
  }
  EXPECT_FAIL(ha_probe_check(HOST, port, 1000, NULL, &res), HA_ERR_NULL_ARG, "check_name");
  EXPECT_FAIL(ha_probe_check(NULL, port, 1000, "ok", &res), HA_ERR_NULL_ARG, "host");
  EXPECT_FAIL(ha_probe_check(HOST, port, 1000, "ok", NULL), HA_ERR_NULL_ARG, "out");
  EXPECT_FAIL(ha_probe_check(HOST, port, 0, "ok", &res), HA_ERR_INVALID_ARG, "timeout");
  EXPECT_FAIL(ha_probe_check(HOST, port, 1000, "", &res), HA_ERR_INVALID_ARG, "empty");
  EXPECT_FAIL(ha_probe_check(HOST, port, 1000, "two words", &res), HA_ERR_INVALID_ARG,
              "whitespace");
  EXPECT_FAIL(ha_probe_check(HOST, port, 1000, "ok\r\nquit", &res), HA_ERR_INVALID_ARG,
              "control");
  EXPECT_FAIL(ha_probe_check(HOST, port, 1000, "\xff", &res), HA_ERR_INVALID_UTF8,
              "check_name");
  EXPECT_FAIL(ha_probe_check(HOST, port, 1000, "no-such-check", &res),
              HA_ERR_PROBE_UNKNOWN_CHECK, "no-such-check");
  EXPECT(memcmp(&res, &sentinel, sizeof res) == 0); /* no failure wrote *out */

  EXPECT_STATUS(ha_probe(HOST, port, 1000, &res), HA_OK);
  EXPECT(res.state == HA_STATE_UP && res.checks_ok == 2 && res.checks_total == 2);
  EXPECT(strncmp(res.line, "UP ", 3) == 0 && res.reason[0] == '\0');

  /* ---- careless check callbacks -------------------------------------------------- */
  EXPECT_STATUS(ha_server_add_check(srv, "garbage", garbage_check, NULL, &opts), HA_OK);
  EXPECT(wait_for_check_down(port, "garbage", "invalid check result 12345", &res));
  EXPECT(strstr(res.reason, "must be replaced") == NULL);
  EXPECT(wait_for_state(srv, HA_STATE_DOWN)); /* a critical check failed */

  EXPECT_STATUS(ha_server_add_check(srv, "unterminated", unterminated_check, NULL, &opts),
                HA_OK);
  EXPECT(wait_for_check_down(port, "unterminated", "xxxx", &res));
  /* The library cuts the buffer at reason_cap - 1 and keeps at most 200 characters of a
   * reason (MAX_REASON in src/monitor/check.rs) so replies stay one short line. */
  EXPECT(strlen(res.reason) >= 100 && strlen(res.reason) < HA_REASON_CAP);
  EXPECT(strspn(res.reason, "x") == strlen(res.reason));

  /* Up to the limit of 64 checks; these run once a minute, so they stay quiet. */
  for (i = 0; i < 100; i++) {
    char name[16];
    ha_status rc;
    snprintf(name, sizeof name, "c%d", i);
    rc = ha_server_add_check(srv, name, up_check, NULL, &quiet);
    if (rc != HA_OK) {
      EXPECT_FAIL(rc, HA_ERR_TOO_MANY_CHECKS, "64");
      break;
    }
  }
  EXPECT(i == 64 - 4); /* ok, name64, garbage and unterminated came first */

  /* ---- the log callback ---------------------------------------------------------- */
  EXPECT_FAIL(ha_log_set_callback(count_log, NULL, 6), HA_ERR_INVALID_ARG, "max_level");
  EXPECT_FAIL(ha_log_set_callback(count_log, NULL, UINT32_MAX), HA_ERR_INVALID_ARG,
              "max_level");
  EXPECT_STATUS(ha_log_set_callback(count_log, NULL, HA_LOG_DEBUG), HA_OK);
  EXPECT_STATUS(ha_server_ready(NULL), HA_ERR_NULL_ARG); /* logged at debug level */
  EXPECT(atomic_load(&log_calls) > 0);
  EXPECT_STATUS(ha_log_set_callback(NULL, NULL, HA_LOG_TRACE), HA_OK); /* stop forwarding */
  logs_before = atomic_load(&log_calls);
  EXPECT_STATUS(ha_server_ready(NULL), HA_ERR_NULL_ARG);
  EXPECT(atomic_load(&log_calls) == logs_before);
  EXPECT(atomic_load(&bad_log_calls) == 0);

  /* ---- stopping ------------------------------------------------------------------- */
  ha_server_stop(NULL); /* no-op */
  ha_config_free(NULL); /* no-op */
  ha_server_stop(srv);
  srv = NULL;
  EXPECT_FAIL(ha_probe(HOST, port, 1000, &res), HA_ERR_PROBE_REFUSED, NULL);

  ret = failed == 0 ? 0 : 1;

cleanup:
  ha_server_stop(srv_gone);
  ha_server_stop(srv);
  ha_config_free(cfg_busy);
  ha_config_free(cfg_bare);
  ha_config_free(cfg_off);
  ha_config_free(cfg);
  if (props_path[0] != '\0') {
    unlink(props_path);
  }
  if (latin1_path[0] != '\0') {
    unlink(latin1_path);
  }
  if (ret == 0) {
    printf("abi_misuse: %u checks passed\n", passed);
  } else {
    printf("abi_misuse: %u checks passed, %u failed\n", passed, failed);
  }
  return ret;
}
