/* test_corpus.c — replays every input in tests/unit/corpus/<target>/ (inputs the fuzzers once crashed on)
 * and the seeds in fuzz/corpus/<target>/ through the fuzz targets themselves: the same entry points and
 * the same invariants (a violation aborts, naming the file on stderr first). */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

/* Each fuzz target, compiled in under its own name. */
#define LLVMFuzzerTestOneInput fuzz_flush_one
#include "../../fuzz/fuzz_flush.c"
#undef LLVMFuzzerTestOneInput
#undef CHECK
#define LLVMFuzzerTestOneInput fuzz_fluentlog_one
#include "../../fuzz/fuzz_fluentlog.c"
#undef LLVMFuzzerTestOneInput
#undef CHECK
#define LLVMFuzzerTestOneInput fuzz_monitor_one
#include "../../fuzz/fuzz_monitor.c"
#undef LLVMFuzzerTestOneInput
#undef CHECK
#define LLVMFuzzerTestOneInput fuzz_asg_xml_one
#include "../../fuzz/fuzz_asg_xml.c"
#undef LLVMFuzzerTestOneInput
#undef CHECK
#define LLVMFuzzerTestOneInput fuzz_imds_creds_one
#include "../../fuzz/fuzz_imds_creds.c"
#undef LLVMFuzzerTestOneInput
#undef CHECK
#define LLVMFuzzerTestOneInput fuzz_args_one
#include "../../fuzz/fuzz_args.c"
#undef LLVMFuzzerTestOneInput

typedef int (*fuzz_entry)(const uint8_t *data, size_t size);

#define CORPUS_MAX_INPUT (1024 * 1024)

/* parse_argv() prints --help and usage errors: keep them out of the test output (libFuzzer runs that
 * target with -close_fd_mask=3). */
static int run_quiet(fuzz_entry entry, const uint8_t *buf, size_t len) {
        fflush(stdout);
        fflush(stderr);
        int out = dup(STDOUT_FILENO), err = dup(STDERR_FILENO);
        _cleanup_(closep) int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        assert_true(out >= 0 && err >= 0 && null >= 0);
        assert_true(dup2(null, STDOUT_FILENO) >= 0 && dup2(null, STDERR_FILENO) >= 0);
        int r = entry(buf, len);
        fflush(stdout);
        fflush(stderr);
        assert_true(dup2(out, STDOUT_FILENO) >= 0 && dup2(err, STDERR_FILENO) >= 0);
        close(out);
        close(err);
        return r;
}

/* Feed every regular file of <REPO_DIR>/<dir>/<target> to entry; returns how many there were. */
static unsigned replay_dir(const char *dir, const char *target, fuzz_entry entry, bool quiet) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/%s", REPO_DIR, dir, target);
        DIR *d = opendir(path);
        if (!d)
                return 0;
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                char p[8192];
                struct stat st;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof p, "%s/%s", path, de->d_name);
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                assert_true(st.st_size <= CORPUS_MAX_INPUT);
                _cleanup_(fclosep) FILE *f = fopen(p, "re");
                assert_non_null(f);
                /* an exact-size heap copy, as libFuzzer hands it over */
                _cleanup_(freep) uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
                assert_non_null(buf);
                size_t len = fread(buf, 1, (size_t)st.st_size, f);
                assert_int_equal(len, (size_t)st.st_size);
                fprintf(stderr, "replay %s/%s/%s\n", dir, target, de->d_name);
                assert_int_equal(quiet ? run_quiet(entry, buf, len) : entry(buf, len), 0);
                n++;
        }
        closedir(d);
        return n;
}

struct target {
        const char *name;
        fuzz_entry entry;
        bool regressions;         /* tests/unit/corpus/<name>/ must hold at least one input */
        bool quiet;               /* the target prints: send its stdout and stderr to /dev/null */
};

static const struct target targets[] = {
        { "flush", fuzz_flush_one, true, false },
        { "fluentlog", fuzz_fluentlog_one, false, false },
        { "monitor", fuzz_monitor_one, false, false },
        { "asg_xml", fuzz_asg_xml_one, false, false },
        { "imds_creds", fuzz_imds_creds_one, false, false },
        { "args", fuzz_args_one, true, true },
};

static void test_target(void **state) {
        const struct target *t = *state;
        unsigned seeds = replay_dir("fuzz/corpus", t->name, t->entry, t->quiet);
        unsigned found = replay_dir("tests/unit/corpus", t->name, t->entry, t->quiet);
        /* the checked-in seeds are part of the tree: a missing directory is a broken checkout */
        assert_true(seeds > 0);
        if (t->regressions)
                assert_true(found > 0);
}

int main(void) {
        struct CMUnitTest tests[ELEMENTSOF(targets)];
        for (size_t i = 0; i < ELEMENTSOF(targets); i++)
                tests[i] = (struct CMUnitTest){ .name = targets[i].name, .test_func = test_target,
                                                .initial_state = (void *)&targets[i] };
        return cmocka_run_group_tests_name("corpus", tests, NULL, NULL);
}
