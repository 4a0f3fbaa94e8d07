/*
 * hb_node: a heartbeat daemon for one node of a cluster that keeps exactly one node
 * active over a shared directory, as a site would write it around its own application.
 *
 * Usage: hb_node PROPERTIES_FILE
 *
 * PROPERTIES_FILE holds this node's hb.* keys: hb.dir (the shared directory), hb.node,
 * hb.nodes, hb.state_dir, and optionally hb.cluster, hb.preferred and the timing keys
 * (hb.period_ms, hb.io_timeout_ms, hb.renew_deadline_ms, hb.kill_budget_ms,
 * hb.takeover_ms, hb.confirm_ms).
 *
 * It creates the shared records if missing (hb_init, idempotent), then loops on hb_tick and
 * does what each result says. The "application" is a flag here; a real daemon would start
 * its service with HB_EPOCH=<epoch> on START and stop it on STOP/FENCE. Every change of
 * role, action or epoch is printed as one line on stdout:
 *   hb_node: NAME ROLE ACTION epoch N        e.g. "hb_node: dc1 ACTIVE START epoch 3"
 * and every change of the maintenance mode as
 *   hb_node: NAME maintenance MODE [TARGET]
 * hamon's warnings and errors (the alarms) go to stderr, prefixed "hb_node: log: ".
 *
 * SIGTERM or SIGINT hands over: hb_release, stop the application, tick until the node is
 * STANDBY and its RELEASED record is written (at most STOP_WAIT_MS), print
 * "hb_node: NAME stopped" and exit 0. Exit 1 on any failure, 2 on a usage error.
 *
 * Style as in pico.c: handles are declared NULL at the top of main and freed once under the
 * single cleanup label; every ha_status is checked and printed with ha_status_str() and the
 * detail from ha_last_error(). The node is used by the main thread only (hb_node is not
 * thread-safe). hamon installs no signal handlers; these are the program's own.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hamon.h"

/* How long a hand-over on SIGTERM may take before the program gives up on it. */
#define STOP_WAIT_MS 5000

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) { stop_signal = sig; }

/* Prints why a hamon call failed: the status name and this thread's detail. */
static void print_status(const char *what, ha_status rc) {
  char detail[512];
  if (ha_last_error(detail, sizeof detail, NULL) != HA_OK) {
    detail[0] = '\0';
  }
  fprintf(stderr, "hb_node: %s: %s (%u): %s\n", what, ha_status_str(rc),
          (unsigned)rc, detail);
}

/* hamon's log records (alarms among them); may run on any hamon thread. */
static void on_log(void *userdata, uint32_t level, const char *message) {
  (void)userdata;
  fprintf(stderr, "hb_node: log: %s: %s\n", level == HA_LOG_ERROR ? "ERROR" : "WARN",
          message);
}

static const char *role_word(uint32_t role) {
  switch (role) {
  case HB_ROLE_STANDBY:
    return "STANDBY";
  case HB_ROLE_CLAIMING:
    return "CLAIMING";
  case HB_ROLE_ACTIVE:
    return "ACTIVE";
  case HB_ROLE_STOPPING:
    return "STOPPING";
  default:
    return "UNKNOWN";
  }
}

static const char *action_word(uint32_t action) {
  switch (action) {
  case HB_ACTION_NONE:
    return "NONE";
  case HB_ACTION_START:
    return "START";
  case HB_ACTION_KEEP:
    return "KEEP";
  case HB_ACTION_STOP:
    return "STOP";
  case HB_ACTION_FENCE:
    return "FENCE";
  default:
    return "UNKNOWN";
  }
}

static const char *maint_word(uint32_t maint) {
  switch (maint) {
  case HB_MAINT_OFF:
    return "OFF";
  case HB_MAINT_FREEZE:
    return "FREEZE";
  case HB_MAINT_SWITCHOVER:
    return "SWITCHOVER";
  default:
    return "UNKNOWN";
  }
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

/* What this program knows about itself and last printed. */
struct daemon {
  char name[HB_NAME_CAP];
  int app_running; /* the "application": a flag */
  uint64_t app_epoch;
  uint32_t shown_role, shown_action, shown_maint;
  uint64_t shown_epoch;
  char shown_target[HB_NAME_CAP];
};

/* One line per change of role, action or epoch, and per change of maintenance mode. */
static void show(struct daemon *d, const hb_tick_result *r) {
  if (r->role != d->shown_role || r->action != d->shown_action ||
      r->epoch != d->shown_epoch) {
    printf("hb_node: %s %s %s epoch %llu\n", d->name, role_word(r->role),
           action_word(r->action), (unsigned long long)r->epoch);
    d->shown_role = r->role;
    d->shown_action = r->action;
    d->shown_epoch = r->epoch;
  }
  if (r->maint != d->shown_maint || strcmp(r->maint_target, d->shown_target) != 0) {
    printf("hb_node: %s maintenance %s%s%s\n", d->name, maint_word(r->maint),
           r->maint_target[0] != '\0' ? " " : "", r->maint_target);
    d->shown_maint = r->maint;
    memcpy(d->shown_target, r->maint_target, sizeof d->shown_target);
  }
  fflush(stdout);
}

/*
 * Does what a result says, until nothing is left to do: START runs the application with
 * the epoch as its fencing token, STOP and FENCE stop it (a real daemon: TERM and wait for
 * STOP, KILL at once for FENCE, both within hb.kill_budget_ms) and report it gone with
 * hb_app_stopped, whose own result is then handled the same way. NONE means nothing may
 * run here. Returns HA_OK or the status of a failed call.
 */
static ha_status act(hb_node *node, struct daemon *d, hb_tick_result *r) {
  ha_status rc;
  for (;;) {
    show(d, r);
    switch (r->action) {
    case HB_ACTION_START:
      d->app_running = 1;
      d->app_epoch = r->epoch; /* e.g. setenv("HB_EPOCH", ...) before exec */
      return HA_OK;
    case HB_ACTION_KEEP:
      return HA_OK;
    case HB_ACTION_STOP:
    case HB_ACTION_FENCE:
      d->app_running = 0;
      rc = hb_app_stopped(node, r);
      if (rc != HA_OK) {
        print_status("hb_app_stopped", rc);
        return rc;
      }
      break; /* handle what hb_app_stopped says */
    default: /* HB_ACTION_NONE */
      if (d->app_running) {
        fprintf(stderr, "hb_node: %s: NONE while the application runs: stopping it\n",
                d->name);
        d->app_running = 0;
      }
      return HA_OK;
    }
  }
}

/* This node's own name, from its entry in hb_status (sized by a first call). */
static ha_status own_name(const hb_node *node, char *name, size_t cap) {
  hb_node_status entries[16];
  size_t count = 0;
  size_t i;
  ha_status rc = hb_status(node, NULL, 0, &count);
  if (rc != HA_OK) {
    print_status("hb_status", rc);
    return rc;
  }
  if (count > sizeof entries / sizeof entries[0]) {
    count = sizeof entries / sizeof entries[0]; /* hb.nodes allows at most 16 */
  }
  rc = hb_status(node, entries, count, &count);
  if (rc != HA_OK) {
    print_status("hb_status", rc);
    return rc;
  }
  for (i = 0; i < count && i < sizeof entries / sizeof entries[0]; i++) {
    if (entries[i].is_self) {
      snprintf(name, cap, "%s", entries[i].name);
      return HA_OK;
    }
  }
  snprintf(name, cap, "?");
  return HA_OK;
}

int main(int argc, char **argv) {
  ha_config *cfg = NULL;
  hb_node *node = NULL;
  struct daemon d;
  hb_tick_result r;
  struct sigaction sa;
  long long give_up;
  int ret = 1;
  ha_status rc;

  if (argc != 2 || argv[1][0] == '-') {
    fprintf(stderr, "usage: %s PROPERTIES_FILE\n", argv[0]);
    return 2;
  }

  /* No SA_RESTART: the sleep between ticks should end early on a signal. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
    fprintf(stderr, "hb_node: sigaction: %s\n", strerror(errno));
    return 1;
  }

  memset(&d, 0, sizeof d);
  d.shown_role = d.shown_action = d.shown_maint = UINT32_MAX; /* nothing shown yet */

  rc = ha_log_set_callback(on_log, NULL, HA_LOG_WARN);
  if (rc != HA_OK) {
    print_status("ha_log_set_callback", rc);
    goto cleanup;
  }
  rc = ha_config_new(&cfg);
  if (rc != HA_OK) {
    print_status("ha_config_new", rc);
    goto cleanup;
  }
  rc = ha_config_load_file(cfg, argv[1]);
  if (rc != HA_OK) {
    print_status("ha_config_load_file", rc);
    goto cleanup;
  }
  rc = hb_init(cfg);
  if (rc != HA_OK) {
    print_status("hb_init", rc);
    goto cleanup;
  }
  rc = hb_node_new(cfg, &node);
  if (rc != HA_OK) {
    print_status("hb_node_new", rc);
    goto cleanup;
  }
  ha_config_free(cfg); /* the node keeps its own copy */
  cfg = NULL;
  if (own_name(node, d.name, sizeof d.name) != HA_OK) {
    goto cleanup;
  }

  while (!stop_signal) {
    rc = hb_tick(node, &r);
    if (rc != HA_OK) {
      print_status("hb_tick", rc);
      goto cleanup;
    }
    if (act(node, &d, &r) != HA_OK) {
      goto cleanup;
    }
    /* Sleep what the tick asks: the next timer is due then (about two calls a period),
     * and it never reaches past the lease's end. */
    sleep_ms((long)r.next_tick_ms);
  }

  /* Hand over: release the lease, stop the application, and tick until the node is
   * STANDBY; the tick after that writes the RELEASED record, so a peer takes over at
   * once instead of after hb.takeover_ms. */
  rc = hb_release(node, &r);
  if (rc != HA_OK) {
    print_status("hb_release", rc);
    goto cleanup;
  }
  if (act(node, &d, &r) != HA_OK) {
    goto cleanup;
  }
  give_up = now_ms() + STOP_WAIT_MS;
  do {
    rc = hb_tick(node, &r);
    if (rc != HA_OK) {
      print_status("hb_tick", rc);
      goto cleanup;
    }
    if (act(node, &d, &r) != HA_OK) {
      goto cleanup;
    }
    if (r.role == HB_ROLE_STANDBY && !d.app_running) {
      break;
    }
    sleep_ms((long)r.next_tick_ms);
  } while (now_ms() < give_up);
  if (r.role != HB_ROLE_STANDBY || d.app_running) {
    fprintf(stderr, "hb_node: %s: still %s after %d ms: giving up\n", d.name,
            role_word(r.role), STOP_WAIT_MS);
    goto cleanup;
  }
  printf("hb_node: %s stopped\n", d.name);
  fflush(stdout);
  ret = 0;

cleanup:
  hb_node_free(node); /* NULL is a no-op */
  ha_config_free(cfg);
  return ret;
}
