/* Prints the privilege state of a process tree inside the sandbox: the command itself, a forked
 * grandchild, and a fresh execve of this probe from that grandchild (exec recomputes the
 * capability sets, so a sandbox that only cleared the effective set would show up there).
 * One line per field and process:
 *     <label> <Field>: <value>      for Uid Gid CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs
 *                                   Seccomp
 * usage: caps            (command, grandchild, exec)
 *        caps --label L  (this process only) */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const fields[] = {"Uid:",    "Gid:",   "CapInh:",     "CapPrm:", "CapEff:",
                                     "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"};

static int print_status(const char *label) {
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) {
        perror("/proc/self/status");
        return 1;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (strncmp(line, fields[i], strlen(fields[i])) == 0) printf("%s %s", label, line);
    }
    fclose(f);
    fflush(stdout);
    return 0;
}

static int wait_ok(pid_t pid) {
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) return 1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--label") == 0) return print_status(argv[2]);
    if (print_status("command")) return 1;
    pid_t child = fork();
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            if (print_status("grandchild")) _exit(1);
            char *const args[] = {argv[0], "--label", "exec", NULL};
            execv("/proc/self/exe", args);
            perror("execv /proc/self/exe");
            _exit(1);
        }
        _exit(wait_ok(grandchild));
    }
    return wait_ok(child);
}
