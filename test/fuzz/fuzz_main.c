/*
 * fuzz_main: the driver that replaces libFuzzer where there is none (gcc,
 * plain `make check`): it feeds each file named on the command line, or
 * each file of a directory named there, to LLVMFuzzerTestOneInput once.
 * Without arguments it runs the target's seed corpus,
 * $FUZZ_SRCDIR/corpus/FUZZ_TARGET_NAME, so every build exercises the
 * corpus even where clang is missing.  It fails when it ran no input at
 * all, so a corpus that went missing cannot pass as an empty success.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

#ifndef FUZZ_TARGET_NAME
#error "FUZZ_TARGET_NAME must name the target's corpus directory"
#endif

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: read error\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, as libFuzzer passes it, so that a target reading
     * past its input is an ASan report in sanitized builds. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    printf("  %s (%zu bytes)\n", path, len);
    fflush(stdout);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Returns how many inputs ran, or -1. */
static long run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return run_file(path) == 0 ? 1 : -1;
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        perror(path);
        return -1;
    }
    /* Sorted, so that a failure names the same input on every machine. */
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char **more = realloc(names, (n + 1) * sizeof(*names));
        if (more != NULL) {
            names = more;
        }
        if (more == NULL || asprintf(&names[n], "%s/%s", path, e->d_name) < 0) {
            fprintf(stderr, "%s: out of memory\n", path);
            closedir(d);
            return -1;
        }
        n++;
    }
    closedir(d);
    if (n > 0) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    long ran = 0;
    for (size_t i = 0; i < n; ++i) {
        if (ran >= 0) {
            long r = run_path(names[i]);
            ran = r < 0 ? -1 : ran + r;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    long ran = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && ran >= 0; ++i) {
            long r = run_path(argv[i]);
            ran = r < 0 ? -1 : ran + r;
        }
    } else {
        const char *srcdir = getenv("FUZZ_SRCDIR");
        char *dir;
        if (asprintf(&dir, "%s/corpus/%s", srcdir ? srcdir : ".", FUZZ_TARGET_NAME) < 0) {
            return 99;
        }
        ran = run_path(dir);
        free(dir);
    }
    if (ran <= 0) {
        fprintf(stderr, "%s: %s\n", FUZZ_TARGET_NAME, ran < 0 ? "could not read an input" : "no input to run");
        return 99;
    }
    printf("PASS %s: %ld inputs\n", FUZZ_TARGET_NAME, ran);
    return 0;
}
