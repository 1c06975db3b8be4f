/*
 * pop3_retr.c - the benchmark's POP3 reader: log in, RETR messages 1..N
 * pipelined DEPTH deep, count the octets, print "SECONDS OCTETS". Written
 * in C so the client is not what limits the measured server (a Python
 * reader tops out near 20,000 messages/s here). After the login it prints
 * "ready" and waits for a line on stdin, so the caller can read the
 * server's CPU clock between the login and the transfer.
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

static char buf[1 << 20];
static size_t len, pos;

static int fill(int fd)
{
	if (pos == len)
		pos = len = 0;
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

/* Skip a multi-line answer up to "\r\n.\r\n"; returns its octets. Jumps
 * from LF to LF with memchr: the client must cost less than the server. */
static long long body(int fd)
{
	/* The 4 bytes before each LF, across buffer refills; the status
	 * line's CRLF counts as the line end before the first line. */
	char prev[4] = {'x', 'x', '\r', '\n'};
	long long n = 0;
	for (;;) {
		while (pos < len) {
			char *lf = memchr(buf + pos, '\n', len - pos);
			size_t upto = lf ? (size_t)(lf - buf) + 1 : len;
			/* shift the bytes before upto into prev */
			size_t k = upto - pos;
			for (size_t j = k > 4 ? k - 4 : 0; j < k; j++) {
				memmove(prev, prev + 1, 3);
				prev[3] = buf[pos + j];
			}
			n += (long long)k;
			pos = upto;
			if (lf == NULL)
				break;
			/* prev ends with this LF: is the line "." after a CRLF? */
			if (prev[0] == '\n' && prev[1] == '.' && prev[2] == '\r')
				return n;
		}
		if (fill(fd) < 0)
			return -1;
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
	if (write(fd, "QUIT\r\n", 6) == 6)
		(void)status(fd);
	close(fd);
	printf("%.6f %lld\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       octets);
	return 0;
}
