/* Scheduling hints for a node's own threads, as static inline functions (nothing to link). */
#ifndef LOOPIX_THREADS_SHIM_H
#define LOOPIX_THREADS_SHIM_H

#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

/* The first version of the kernel's struct sched_attr (48 bytes); glibc has no wrapper. */
struct loopix_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

/* Asks for a scheduling slice of `nanoseconds` for the calling thread, keeping its policy and
 * nice value. On Linux 6.12 and later (EEVDF) a thread with a shorter slice than the running one
 * may preempt it when it wakes, so an I/O thread with a short slice is not kept waiting behind a
 * CPU-bound worker's whole slice; 0 asks for the default again. Older kernels accept the call
 * and ignore the value. No privilege is needed. Returns 0 or an errno value. */
static inline int loopix_thread_request_slice(uint64_t nanoseconds) {
#if defined(__linux__) && defined(SYS_sched_setattr) && defined(SYS_sched_getattr)
    struct loopix_sched_attr attr = {0};
    long tid = syscall(SYS_gettid);
    if (syscall(SYS_sched_getattr, tid, &attr, (unsigned int)sizeof attr, 0U) != 0) return errno;
    if (attr.sched_policy != 0 && attr.sched_policy != 3) return EINVAL; /* SCHED_OTHER, SCHED_BATCH only */
    attr.size = (uint32_t)sizeof attr;
    attr.sched_flags = 0;
    attr.sched_runtime = nanoseconds;
    if (syscall(SYS_sched_setattr, tid, &attr, 0U) != 0) return errno;
    return 0;
#else
    (void)nanoseconds;
    return ENOSYS;
#endif
}

/* The calling thread's current slice in nanoseconds as the kernel reports it, or 0. */
static inline uint64_t loopix_thread_slice(void) {
#if defined(__linux__) && defined(SYS_sched_getattr)
    struct loopix_sched_attr attr = {0};
    if (syscall(SYS_sched_getattr, syscall(SYS_gettid), &attr, (unsigned int)sizeof attr, 0U) != 0) return 0;
    return attr.sched_runtime;
#else
    return 0;
#endif
}

#endif
