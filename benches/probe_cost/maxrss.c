/*
 * maxrss OUT PROGRAM [ARG...]: runs PROGRAM and writes "PEAK FLOOR" to OUT, both in KiB:
 * PEAK is the process's ru_maxrss from wait4(2), FLOOR this launcher's own resident set
 * (/proc/self/statm) when it forked.
 *
 * Why a launcher: Linux keeps a process's peak RSS across exec, so a child's ru_maxrss is
 * never below what was resident in the memory it had before exec: its parent's, shared
 * (vfork, posix_spawn) or copied (fork). A multi-MiB benchmark process would hide a small
 * client. This program is linked statically and forks with little resident, so its floor is
 * far below any client's real peak.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Resident KiB of this process now (not its peak, which includes its own parent's). */
static long resident_kib(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL) {
    return 0;
  }
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) {
    resident = 0;
  }
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv) {
  struct rusage child;
  long floor_kib;
  int status = 0;
  pid_t pid;
  FILE *out;

  if (argc < 3) {
    fprintf(stderr, "usage: maxrss OUT PROGRAM [ARG...]\n");
    return 2;
  }
  floor_kib = resident_kib();
  pid = fork();
  if (pid < 0) {
    perror("maxrss: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], &argv[2]);
    perror("maxrss: exec");
    _exit(127);
  }
  if (wait4(pid, &status, 0, &child) != pid) {
    perror("maxrss: wait4");
    return 2;
  }
  out = fopen(argv[1], "w");
  if (out == NULL || fprintf(out, "%ld %ld\n", child.ru_maxrss, floor_kib) < 0 ||
      fclose(out) != 0) {
    perror("maxrss: write");
    return 2;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
