/*
 * pico: a small application that embeds the hamon HA monitor server, the way a
 * cluster-managed service would.
 *
 * Usage: pico [PROPERTIES_FILE]
 *
 * Environment:
 *   HA_PORT              port to listen on (default 0: the system picks a free one);
 *                        applied after PROPERTIES_FILE, so it wins over the file
 *   HA_HOST              address to listen on (default: the library's, 127.0.0.1)
 *   PICO_FLAG_FILE       the check "app" reads this file: "down" makes it fail,
 *                        "degraded" makes it degraded, anything else (or no file) is UP
 *   PICO_READY_DELAY_MS  how long "startup" takes before ha_server_ready (default 0)
 *   PICO_PID_FILE        where to write the process id (optional)
 *
 * On start it prints exactly one line to stdout:
 *   pico: listening on port N pid P
 * SIGTERM or SIGINT stops it cleanly (it prints "pico: stopped" and exits 0).
 *
 * The program shows the ownership rules of the C API: every handle is declared NULL at
 * the top of main and freed once, under the single cleanup label; every ha_status is
 * checked. Signal handling is the application's business: hamon never installs handlers.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hamon.h"

/* The main loop runs this often: one heartbeat and one transaction per turn. */
#define LOOP_MS 100

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) { stop_signal = sig; }

/* Prints why a hamon call failed: the status name and this thread's detail. */
static void print_status(const char *what, ha_status rc) {
  char detail[512];
  if (ha_last_error(detail, sizeof detail, NULL) != HA_OK) {
    detail[0] = '\0';
  }
  fprintf(stderr, "pico: %s: %s (%u): %s\n", what, ha_status_str(rc),
          (unsigned)rc, detail);
}

/* Reads a non-negative decimal number from the environment; -1 when malformed. */
static long env_ms(const char *name, long fallback) {
  const char *text = getenv(name);
  char *end = NULL;
  long value;
  if (text == NULL || *text == '\0') {
    return fallback;
  }
  errno = 0;
  value = strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < 0) {
    return -1;
  }
  return value;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  /* A signal cuts the sleep short (EINTR); the loop then sees stop_signal. */
  nanosleep(&ts, NULL);
}

/*
 * The check "app". Runs on a hamon thread every interval; userdata is the flag file path
 * (or NULL when PICO_FLAG_FILE is unset). It only reads a small file, so it returns well
 * within its timeout.
 */
static uint32_t app_check(void *userdata, char *reason, size_t reason_cap) {
  const char *path = userdata;
  char word[32];
  size_t n;
  FILE *f;

  if (path == NULL) {
    return HA_CHECK_UP;
  }
  f = fopen(path, "r");
  if (f == NULL) {
    return HA_CHECK_UP; /* no flag file: nothing says otherwise */
  }
  n = fread(word, 1, sizeof word - 1, f);
  fclose(f);
  word[n] = '\0';
  word[strcspn(word, " \t\r\n")] = '\0';

  if (strcmp(word, "down") == 0) {
    snprintf(reason, reason_cap, "flag file %s says down", path);
    return HA_CHECK_DOWN;
  }
  if (strcmp(word, "degraded") == 0) {
    snprintf(reason, reason_cap, "flag file %s says degraded", path);
    return HA_CHECK_DEGRADED;
  }
  return HA_CHECK_UP;
}

static int write_pid_file(const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    fprintf(stderr, "pico: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f, "%ld\n", (long)getpid());
  if (fclose(f) != 0) {
    fprintf(stderr, "pico: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  ha_config *cfg = NULL;
  ha_server *srv = NULL;
  char *flag_path = NULL;
  const char *pid_path = getenv("PICO_PID_FILE");
  const char *env_port = getenv("HA_PORT");
  const char *env_host = getenv("HA_HOST");
  const char *flag_env = getenv("PICO_FLAG_FILE");
  long ready_delay_ms = env_ms("PICO_READY_DELAY_MS", 0);
  int pid_written = 0;
  int ready = 0;
  int ret = 1;
  long long started;
  ha_check_options opts;
  struct sigaction sa;
  ha_status rc;

  if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
    fprintf(stderr, "usage: %s [PROPERTIES_FILE]\n", argv[0]);
    return 2;
  }
  if (ready_delay_ms < 0) {
    fprintf(stderr, "pico: PICO_READY_DELAY_MS must be a number of milliseconds\n");
    return 2;
  }

  /* Handlers first, so a SIGTERM that comes right after the port line is a clean stop.
   * No SA_RESTART: the sleep in the main loop should end early on a signal. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
    fprintf(stderr, "pico: sigaction: %s\n", strerror(errno));
    return 1;
  }

  if (flag_env != NULL && *flag_env != '\0') {
    /* The check reads this copy from a hamon thread; it is freed only after
     * ha_server_stop has returned (see cleanup), as ha_check_cb's rules require.
     * ha_server_stop waits up to ha.stop_timeout_ms for a callback still running;
     * app_check only reads a small file, so none outlives that wait. */
    flag_path = strdup(flag_env);
    if (flag_path == NULL) {
      fprintf(stderr, "pico: out of memory\n");
      goto cleanup;
    }
  }

  /* Settings: defaults, then the properties file, then the environment. */
  rc = ha_config_new(&cfg);
  if (rc != HA_OK) {
    print_status("ha_config_new", rc);
    goto cleanup;
  }
  rc = ha_config_set(cfg, "ha.port", "0");
  if (rc != HA_OK) {
    print_status("ha_config_set ha.port", rc);
    goto cleanup;
  }
  if (argc == 2) {
    rc = ha_config_load_file(cfg, argv[1]);
    if (rc != HA_OK) {
      print_status("ha_config_load_file", rc);
      goto cleanup;
    }
  }
  if (env_port != NULL) {
    rc = ha_config_set(cfg, "ha.port", env_port);
    if (rc != HA_OK) {
      print_status("HA_PORT", rc);
      goto cleanup;
    }
  }
  if (env_host != NULL) {
    rc = ha_config_set(cfg, "ha.host", env_host);
    if (rc != HA_OK) {
      print_status("HA_HOST", rc);
      goto cleanup;
    }
  }

  rc = ha_server_start(cfg, &srv);
  if (rc != HA_OK) {
    print_status("ha_server_start", rc);
    goto cleanup;
  }

  rc = ha_check_options_init(&opts);
  if (rc != HA_OK) {
    print_status("ha_check_options_init", rc);
    goto cleanup;
  }
  opts.importance = HA_IMPORTANCE_CRITICAL;
  opts.interval_ms = 200;
  opts.timeout_ms = 1000;
  opts.rise = 1;
  opts.fall = 1;
  rc = ha_server_add_check(srv, "app", app_check, flag_path, &opts);
  if (rc != HA_OK) {
    print_status("ha_server_add_check app", rc);
    goto cleanup;
  }

  /* The pid file first: whoever reads the port line may look for it at once. */
  if (pid_path != NULL && *pid_path != '\0') {
    if (write_pid_file(pid_path) != 0) {
      goto cleanup;
    }
    pid_written = 1;
  }
  printf("pico: listening on port %u pid %ld\n", (unsigned)ha_server_port(srv),
         (long)getpid());
  fflush(stdout);

  started = now_ms();
  while (!stop_signal) {
    if (!ready && now_ms() - started >= ready_delay_ms) {
      rc = ha_server_ready(srv);
      if (rc != HA_OK) {
        print_status("ha_server_ready", rc);
        goto cleanup;
      }
      ready = 1;
    }
    rc = ha_server_heartbeat(srv);
    if (rc != HA_OK) {
      print_status("ha_server_heartbeat", rc);
      goto cleanup;
    }
    rc = ha_counter_add(srv, "transactions", 1);
    if (rc != HA_OK) {
      print_status("ha_counter_add transactions", rc);
      goto cleanup;
    }
    sleep_ms(LOOP_MS);
  }

  /* Tell clients why we go away, then stop: ha_server_stop joins hamon's threads. */
  rc = ha_server_set_admin(srv, HA_ADMIN_STOPPING,
                           stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
  if (rc != HA_OK) {
    print_status("ha_server_set_admin", rc);
    goto cleanup;
  }
  ha_server_stop(srv);
  srv = NULL;
  ha_config_free(cfg);
  cfg = NULL;
  printf("pico: stopped\n");
  fflush(stdout);
  ret = 0;

cleanup:
  ha_server_stop(srv); /* NULL is a no-op */
  ha_config_free(cfg);
  free(flag_path); /* after ha_server_stop: no check callback uses it any more */
  if (pid_written) {
    unlink(pid_path);
  }
  return ret;
}
