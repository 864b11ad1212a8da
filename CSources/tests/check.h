/* The checks the C test programs count and report: CHECK(cond) and CHECK_RC(expr, expected),
 * each naming the test that runs (current_test) when it fails. */
#ifndef LSX_TEST_CHECK_H
#define LSX_TEST_CHECK_H

#include "loopix_sphinx.h"

#include <stdio.h>

static int checks_failed = 0, checks_run = 0;
static const char *current_test = "";

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        checks_run++;                                                                       \
        if (!(cond)) {                                                                      \
            checks_failed++;                                                                \
            fprintf(stderr, "FAIL %s (%s:%d): %s\n", current_test, __FILE__, __LINE__, #cond); \
        }                                                                                   \
    } while (0)
#define CHECK_RC(expr, expected)                                                            \
    do {                                                                                    \
        int rc_ = (expr);                                                                   \
        checks_run++;                                                                       \
        if (rc_ != (expected)) {                                                            \
            checks_failed++;                                                                \
            fprintf(stderr, "FAIL %s (%s:%d): %s gave %s, expected %s\n", current_test,      \
                    __FILE__, __LINE__, #expr, lsx_error_name(rc_), lsx_error_name(expected)); \
        }                                                                                   \
    } while (0)

#endif
