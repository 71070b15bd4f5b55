/*
 * What Open MPI says about itself and about the cma component: the version,
 * whether "MCA btl: cma" loads (and if not, why), where the component file
 * is, and the component's parameter values.  Everything comes from running
 * ompi_info, the same program a user would ask, under the same component
 * search path mpirun would use; the doctor never links MPI itself, so it
 * still runs (and says so) where Open MPI is broken or missing.
 */
#define _GNU_SOURCE
#include "doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BTL_CMA_DOCTOR_OMPI_INFO
#define BTL_CMA_DOCTOR_OMPI_INFO "ompi_info"
#endif

/* ompi_info answers in well under a second; a minute means it hangs (a
 * broken network component, say), and the doctor must still report. */
#define RUN_TIMEOUT_MS 60000

/* Compiled-in defaults, used when ompi_info cannot list the component's
 * parameters (it does not load); they match btl_cma_component.c. */
static const struct {
    const char *name, *value;
} defaults[DP_COUNT] = {
    [DP_EAGER] = {"eager_limit", "8192"},
    [DP_MAX_SEND] = {"max_send_size", "32768"},
    [DP_SINGLE_COPY_MIN] = {"single_copy_min", "262144"},
    [DP_RING_SIZE] = {"ring_size", "0"},
    [DP_SINGLE_COPY] = {"single_copy", "auto"},
    [DP_SEGMENT] = {"segment", "auto"},
    [DP_YIELD_IDLE] = {"yield_idle", "-1"},
};

static int executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The ompi_info that mpirun's user gets is the one on PATH; the one found at
 * configure time is only a fallback for a PATH without Open MPI. */
static int find_ompi_info(char *out, size_t len)
{
    const char *path = getenv("PATH");
    if (path) {
        const char *p = path;
        while (*p) {
            const char *colon = strchr(p, ':');
            size_t n = colon ? (size_t) (colon - p) : strlen(p);
            if (n > 0 && n < len - 16) {
                snprintf(out, len, "%.*s/ompi_info", (int) n, p);
                if (executable(out)) {
                    return 1;
                }
            }
            if (!colon) {
                break;
            }
            p = colon + 1;
        }
    }
    if (executable(BTL_CMA_DOCTOR_OMPI_INFO)) {
        snprintf(out, len, "%s", BTL_CMA_DOCTOR_OMPI_INFO);
        return 1;
    }
    out[0] = '\0';
    return 0;
}

static void append(char *buf, size_t cap, size_t *used, const char *data, size_t n)
{
    if (*used + 1 >= cap) {
        return; /* keep draining so the child never blocks on a full pipe */
    }
    if (n > cap - 1 - *used) {
        n = cap - 1 - *used;
    }
    memcpy(buf + *used, data, n);
    *used += n;
    buf[*used] = '\0';
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run prog with argv, stdout and stderr captured apart (Open MPI prints load
 * errors on stderr, which may land mid-line of stdout if merged).  comp_path,
 * when given, becomes OMPI_MCA_mca_base_component_path.  Returns the exit
 * status, or -1 with why filled when it did not run to completion. */
static int run_capture(const char *prog, char *const argv[], const char *comp_path, char *out, size_t outcap,
                       char *err, size_t errcap, char *why, size_t whylen)
{
    int po[2], pe[2];
    out[0] = err[0] = '\0';
    if (pipe2(po, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(pe, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        close(po[0]);
        close(po[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(po[1], STDOUT_FILENO);
        dup2(pe[1], STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
        }
        if (comp_path) {
            setenv("OMPI_MCA_mca_base_component_path", comp_path, 1);
        }
        execv(prog, argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t nout = 0, nerr = 0;
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2, timed_out = 0;
    long long deadline = now_ms() + RUN_TIMEOUT_MS;
    while (open_fds > 0) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int n = poll(fds, 2, (int) left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            timed_out = n == 0;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            char chunk[4096];
            ssize_t got = read(fds[i].fd, chunk, sizeof(chunk));
            if (got > 0) {
                if (i == 0) {
                    append(out, outcap, &nout, chunk, (size_t) got);
                } else {
                    append(err, errcap, &nerr, chunk, (size_t) got);
                }
            } else if (got == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    for (int i = 0; i < 2; ++i) {
        if (fds[i].fd >= 0) {
            close(fds[i].fd);
        }
    }
    if (timed_out) {
        kill(pid, SIGKILL);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        snprintf(why, whylen, "%s did not answer within %d s", prog, RUN_TIMEOUT_MS / 1000);
        return -1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, whylen, "%s was killed by signal %d (%s)", prog, WTERMSIG(status), strsignal(WTERMSIG(status)));
        return -1;
    }
    if (WEXITSTATUS(status) == 127) {
        snprintf(why, whylen, "%s could not be executed", prog);
        return -1;
    }
    return WEXITSTATUS(status);
}

/* Calls fn on each line of buf (NUL-terminated copies, no newline). */
static void each_line(const char *buf, void (*fn)(const char *line, void *arg), void *arg)
{
    const char *p = buf;
    char line[2048];
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t) (nl - p) : strlen(p);
        if (n >= sizeof(line)) {
            n = sizeof(line) - 1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        fn(line, arg);
        if (!nl) {
            break;
        }
        p = nl + 1;
    }
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        ++s;
    }
    return s;
}

static void copy_word(char *dst, size_t len, const char *src, const char *stops)
{
    size_t n = strcspn(src, stops);
    if (n >= len) {
        n = len - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void parse_listing(const char *line, void *arg)
{
    struct doctor_ompi *o = arg;
    const char *s = skip_space(line);
    if (strncmp(s, "Open MPI:", 9) == 0) {
        copy_word(o->version, sizeof(o->version), skip_space(s + 9), " \t");
        if (sscanf(o->version, "%d.%d", &o->major, &o->minor) < 1) {
            o->major = o->minor = 0;
        }
    } else if (strncmp(s, "MCA btl: cma ", 13) == 0 || strcmp(s, "MCA btl: cma") == 0) {
        o->cma_listed = 1;
        const char *v = strstr(s, "Component v");
        if (v) {
            copy_word(o->cma_version, sizeof(o->cma_version), v + 11, ",) \t");
        }
    }
}

static void parse_params(const char *line, void *arg)
{
    struct doctor_ompi *o = arg;
    static const char prefix[] = "mca:btl:cma:param:btl_cma_";
    if (strncmp(line, prefix, sizeof(prefix) - 1) != 0) {
        return;
    }
    const char *name = line + sizeof(prefix) - 1;
    for (int i = 0; i < DP_COUNT; ++i) {
        size_t n = strlen(o->params[i].name);
        if (strncmp(name, o->params[i].name, n) != 0 || name[n] != ':') {
            continue;
        }
        const char *field = name + n + 1;
        if (strncmp(field, "value:", 6) == 0) {
            copy_word(o->params[i].value, sizeof(o->params[i].value), field + 6, "\"");
            o->params_from_ompi_info = 1;
        } else if (strncmp(field, "source:", 7) == 0) {
            copy_word(o->params[i].source, sizeof(o->params[i].source), field + 7, "\"");
        }
    }
}

static void parse_search_path(const char *line, void *arg)
{
    struct doctor_ompi *o = arg;
    static const char key[] = "mca:mca:base:param:mca_base_component_path:value:";
    if (strncmp(line, key, sizeof(key) - 1) == 0) {
        copy_word(o->search_path, sizeof(o->search_path), line + sizeof(key) - 1 + (line[sizeof(key) - 1] == '"'),
                  "\"");
    }
}

static void parse_pkglibdir(const char *line, void *arg)
{
    struct doctor_ompi *o = arg;
    if (strncmp(line, "path:pkglibdir:", 15) == 0) {
        copy_word(o->pkglibdir, sizeof(o->pkglibdir), line + 15, "\"");
    }
}

/* Open MPI reports a component it found but could not dlopen as
 * "...: unable to open mca_btl_cma: REASON (ignored)" on stderr. */
static void find_load_error(struct doctor_ompi *o, const char *err)
{
    const char *p = strstr(err, "unable to open mca_btl_cma:");
    if (!p) {
        return;
    }
    p = skip_space(p + strlen("unable to open mca_btl_cma:"));
    size_t n = strcspn(p, "\n[");
    const char *ign = strstr(p, " (ignored)");
    if (ign && (size_t) (ign - p) < n) {
        n = (size_t) (ign - p);
    }
    if (n >= sizeof(o->load_error)) {
        n = sizeof(o->load_error) - 1;
    }
    memcpy(o->load_error, p, n);
    o->load_error[n] = '\0';
}

static void find_component_file(struct doctor_ompi *o)
{
    const char *p = o->search_path;
    const char *home = getenv("HOME");
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t) (colon - p) : strlen(p);
        char dir[4096];
        if (n < sizeof(dir)) {
            memcpy(dir, p, n);
            dir[n] = '\0';
            char file[4096 + 32];
            /* Open MPI expands a leading "~" itself; so must we. */
            if (dir[0] == '~' && home) {
                snprintf(file, sizeof(file), "%s%s/mca_btl_cma.so", home, dir + 1);
            } else {
                snprintf(file, sizeof(file), "%s/mca_btl_cma.so", dir);
            }
            if (access(file, R_OK) == 0) {
                snprintf(o->cma_file, sizeof(o->cma_file), "%s", file);
                return;
            }
        }
        if (!colon) {
            break;
        }
        p = colon + 1;
    }
}

void doctor_ompi_gather(struct doctor_ompi *o, const char *component_dir)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < DP_COUNT; ++i) {
        o->params[i].name = defaults[i].name;
        snprintf(o->params[i].value, sizeof(o->params[i].value), "%s", defaults[i].value);
    }
    if (component_dir) {
        snprintf(o->component_dir, sizeof(o->component_dir), "%s", component_dir);
    }
    if (!find_ompi_info(o->ompi_info, sizeof(o->ompi_info))) {
        snprintf(o->run_error, sizeof(o->run_error), "ompi_info is not on PATH (nor at %s)",
                 BTL_CMA_DOCTOR_OMPI_INFO);
        return;
    }
    const size_t cap = 1 << 20;
    char *out = malloc(cap), *err = malloc(cap);
    if (!out || !err) {
        snprintf(o->run_error, sizeof(o->run_error), "out of memory");
        free(out);
        free(err);
        return;
    }
    char *prog = o->ompi_info;

    /* The search path ompi_info uses by default (or as the user's
     * environment already overrides it); --component-dir goes in front of
     * it, as README tells users to do with mpirun. */
    char *arg_base[] = {prog, "--param", "mca", "base", "--level", "9", "--parsable", NULL};
    if (run_capture(prog, arg_base, NULL, out, cap, err, cap, o->run_error, sizeof(o->run_error)) == 0) {
        each_line(out, parse_search_path, o);
    }
    char *arg_pkg[] = {prog, "--path", "pkglibdir", "--parsable", NULL};
    if (run_capture(prog, arg_pkg, NULL, out, cap, err, cap, o->run_error, sizeof(o->run_error)) == 0) {
        each_line(out, parse_pkglibdir, o);
    }
    if (!o->search_path[0]) {
        snprintf(o->search_path, sizeof(o->search_path), "%s", o->pkglibdir);
    }
    char *comp_path = NULL;
    if (component_dir) {
        size_t n = strlen(component_dir) + strlen(o->search_path) + 2;
        comp_path = malloc(n);
        if (comp_path) {
            snprintf(comp_path, n, "%s%s%s", component_dir, o->search_path[0] ? ":" : "", o->search_path);
            snprintf(o->search_path, sizeof(o->search_path), "%s", comp_path);
        }
    }

    char *arg_list[] = {prog, NULL};
    int rc = run_capture(prog, arg_list, comp_path, out, cap, err, cap, o->run_error, sizeof(o->run_error));
    if (rc == 0) {
        o->ran = 1;
        each_line(out, parse_listing, o);
        find_load_error(o, err);
    } else if (rc > 0) {
        snprintf(o->run_error, sizeof(o->run_error), "ompi_info exited with status %d", rc);
    }
    find_component_file(o);

    if (o->cma_listed) {
        char *arg_par[] = {prog, "--param", "btl", "cma", "--level", "9", "--parsable", NULL};
        char why[256];
        if (run_capture(prog, arg_par, comp_path, out, cap, err, cap, why, sizeof(why)) == 0) {
            each_line(out, parse_params, o);
        }
    }
    free(comp_path);
    free(out);
    free(err);
}

unsigned long long doctor_param_u(const struct doctor_ompi *o, int which)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(o->params[which].value, &end, 0);
    return errno || end == o->params[which].value ? 0 : v;
}
