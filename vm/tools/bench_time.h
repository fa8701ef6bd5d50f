/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Clocks of the bench tools (p2pbench, leasebench): wall time and the
 * CPU time (user + system) of this process, in seconds.
 */
#ifndef BENCH_TIME_H
#define BENCH_TIME_H

#include <sys/resource.h>
#include <time.h>

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

#endif /* BENCH_TIME_H */
