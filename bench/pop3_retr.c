/*
 * pop3_retr.c - the benchmark's POP3 reader: log in, RETR messages 1..N
 * pipelined DEPTH deep, count the octets, print "SECONDS OCTETS". Written
 * in C so the client is not what limits the measured server (a Python
 * reader tops out near 20,000 messages/s here). After the login it prints
 * "ready" and waits for a line on stdin, and after the transfer it prints
 * its figures and waits for another line before QUIT, so the caller can
 * read the server's CPU clocks around the transfer alone, while the
 * session (Dovecot: its pop3 process) is still alive.
 *
 *   pop3_retr PORT USER PASSWORD N DEPTH
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static char buf[1 << 20];
static size_t len, pos;

/* Refill; when everything was consumed, the last 4 bytes stay in front
 * of pos, so body() can find a terminator that straddles two reads. */
static int fill(int fd)
{
	if (pos == len) {
		size_t keep = len < 4 ? len : 4;
		memmove(buf, buf + len - keep, keep);
		pos = len = keep;
	}
	ssize_t n = read(fd, buf + len, sizeof(buf) - len);
	if (n <= 0)
		return -1;
	len += (size_t)n;
	return 0;
}

/* Read one status line; 0 if it starts with "+OK". */
static int status(int fd)
{
	char line[512];
	size_t k = 0;
	for (;;) {
		while (pos < len) {
			char c = buf[pos++];
			if (k < sizeof(line) - 1)
				line[k++] = c;
			if (c == '\n') {
				line[k] = '\0';
				return strncmp(line, "+OK", 3) == 0 ? 0 : -1;
			}
		}
		if (fill(fd) < 0)
			return -1;
	}
}

/* The first "\r\n.\r\n" in p[0..n), or NULL. With SSE2, 16 positions a
 * step are tested for "\n." (rare in a stuffed body: only lines that
 * began with a dot) and only those are looked at further; glibc's memmem
 * was slowed by the benchmark's lines full of dots (about 1 GB/s, as much
 * CPU as a fast server spends). */
static const char *find_end(const char *p, size_t n)
{
	size_t i = 1; /* i: a candidate LF; the CR before it is p[i - 1] */
#ifdef __SSE2__
	const __m128i lf = _mm_set1_epi8('\n'), dot = _mm_set1_epi8('.');
	for (; i + 19 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 1));
		unsigned m = (unsigned)_mm_movemask_epi8(
			_mm_and_si128(_mm_cmpeq_epi8(a, lf), _mm_cmpeq_epi8(b, dot)));
		while (m != 0) {
			size_t k = i + (size_t)__builtin_ctz(m);
			if (p[k - 1] == '\r' && p[k + 2] == '\r' && p[k + 3] == '\n')
				return p + k - 1;
			m &= m - 1;
		}
	}
#endif
	if (n < 5)
		return NULL;
	const char *e = i - 1 <= n - 5 ? memmem(p + i - 1, n - (i - 1), "\r\n.\r\n", 5) : NULL;
	return e;
}

/* Skip a multi-line answer up to "\r\n.\r\n"; returns its octets (from
 * after the status line through the final ".\r\n"). One scan per read,
 * not a step per line: the client must cost far less than the servers it
 * measures (it shares the 2 cores with them). Dot-stuffing guarantees the
 * first "\r\n.\r\n" is the end; the status line's CRLF, still in front
 * of pos, is the CRLF before an empty body's ".". */
static long long body(int fd)
{
	long long n = 0;
	size_t from = pos - 2;
	for (;;) {
		const char *e = find_end(buf + from, len - from);
		if (e != NULL) {
			size_t end = (size_t)(e - buf) + 5;
			n += (long long)(end - pos);
			pos = end;
			return n;
		}
		n += (long long)(len - pos);
		pos = len;
		if (fill(fd) < 0)
			return -1;
		from = pos - 4;
	}
}

static int say(int fd, const char *verb, const char *arg)
{
	char line[600];
	int k = snprintf(line, sizeof(line), "%s %s\r\n", verb, arg);
	return k > 0 && (size_t)k < sizeof(line) && write(fd, line, (size_t)k) == k ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: pop3_retr PORT USER PASSWORD N DEPTH\n");
		return 2;
	}
	long port = strtol(argv[1], NULL, 10), n = strtol(argv[4], NULL, 10);
	long depth = strtol(argv[5], NULL, 10);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || status(fd) < 0 ||
	    say(fd, "USER", argv[2]) < 0 || status(fd) < 0 ||
	    say(fd, "PASS", argv[3]) < 0 || status(fd) < 0) {
		fprintf(stderr, "pop3_retr: login failed\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	char go[16];
	if (fgets(go, sizeof(go), stdin) == NULL)
		return 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long sent = 0, done = 0;
	long long octets = 0;
	while (done < n) {
		char cmds[4096];
		size_t k = 0;
		while (sent < n && sent - done < depth && k < sizeof(cmds) - 32)
			k += (size_t)snprintf(cmds + k, sizeof(cmds) - k, "RETR %ld\r\n", ++sent);
		if (k > 0 && write(fd, cmds, k) != (ssize_t)k)
			return 1;
		long long b;
		if (status(fd) < 0 || (b = body(fd)) < 0) {
			fprintf(stderr, "pop3_retr: RETR %ld failed\n", done + 1);
			return 1;
		}
		octets += b;
		done++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.6f %lld\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       octets);
	fflush(stdout);
	(void)fgets(go, sizeof(go), stdin); /* EOF: quit at once */
	if (write(fd, "QUIT\r\n", 6) == 6)
		(void)status(fd);
	close(fd);
	return 0;
}
