/*
 * test_listen.c - listen specs as an admin writes them, real sockets on
 * loopback (port 0, so parallel test runs never collide), peer address text.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/listen.h"
#include "test.h"

struct spec_case {
	const char *label;
	const char *spec;
	int rc;
	const char *want; /* normalised texts joined by '|', or the error */
};

static const struct spec_case spec_cases[] = {
	{"empty", "", 0, ""},
	{"blanks only", "  \t ", 0, ""},
	{"one v4", "127.0.0.1:2525", 0, "127.0.0.1:2525"},
	{"any v4", "0.0.0.0:25", 0, "0.0.0.0:25"},
	{"v6 loopback", "[::1]:25", 0, "[::1]:25"},
	{"v6 normalised", "[0:0:0:0:0:0:0:1]:25", 0, "[::1]:25"},
	{"v6 any", "[::]:587", 0, "[::]:587"},
	{"list with blanks", " 127.0.0.1:1 ,\t[::1]:2 ", 0,
	 "127.0.0.1:1|[::1]:2"},
	{"port zero", "127.0.0.1:0", 0, "127.0.0.1:0"},
	{"port max", "127.0.0.1:65535", 0, "127.0.0.1:65535"},
	{"port too big", "127.0.0.1:65536", -1, "bad port in '127.0.0.1:65536'"},
	{"port word", "127.0.0.1:x", -1, "bad port in '127.0.0.1:x'"},
	{"port empty", "127.0.0.1:", -1, "bad port in '127.0.0.1:'"},
	{"port signed", "127.0.0.1:+25", -1, "bad port in '127.0.0.1:+25'"},
	{"no port", "127.0.0.1", -1, "missing port in '127.0.0.1'"},
	{"v6 no port", "[::1]", -1, "missing port in '[::1]'"},
	{"v6 no bracket", "::1:25", -1,
	 "IPv6 addresses need brackets in '::1:25'"},
	{"v6 unclosed", "[::1:25", -1, "missing ']' in '[::1:25'"},
	{"v6 bad", "[::g]:25", -1, "bad IPv6 address in '[::g]:25'"},
	{"host name", "localhost:25", -1,
	 "bad address in 'localhost:25' (numeric IPv4 or [IPv6] only)"},
	{"short v4", "127.1:25", -1,
	 "bad address in '127.1:25' (numeric IPv4 or [IPv6] only)"},
	{"empty item", "127.0.0.1:1,,127.0.0.1:2", -1,
	 "empty address in '127.0.0.1:1,,127.0.0.1:2'"},
	{"trailing comma", "127.0.0.1:1,", -1, "empty address in '127.0.0.1:1,'"},
	{"blank inside", "127.0.0.1 :25", -1, "bad character in '127.0.0.1 :25'"},
	{"duplicate", "127.0.0.1:1,127.0.0.1:1", -1, "127.0.0.1:1 listed twice"},
	{"too many", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,"
		     "127.0.0.1:5,127.0.0.1:6,127.0.0.1:7,127.0.0.1:8,127.0.0.1:9",
	 -1, "more than 8 addresses"},
	{"exactly max", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,"
			"127.0.0.1:5,127.0.0.1:6,127.0.0.1:7,127.0.0.1:8",
	 0, "127.0.0.1:1|127.0.0.1:2|127.0.0.1:3|127.0.0.1:4|127.0.0.1:5|"
	    "127.0.0.1:6|127.0.0.1:7|127.0.0.1:8"},
};

static void test_parse_table(void)
{
	for (size_t i = 0; i < sizeof(spec_cases) / sizeof(spec_cases[0]); i++) {
		const struct spec_case *c = &spec_cases[i];
		struct listen_addr addrs[LISTEN_ADDRS_MAX];
		size_t n = 99;
		char err[256] = "", got[1024] = "";
		test_state.label = c->label;
		int rc = listen_parse(c->spec, addrs, LISTEN_ADDRS_MAX, &n, err,
				      sizeof(err));
		CHECK_INT(rc, c->rc);
		if (rc == 0) {
			size_t o = 0;
			for (size_t k = 0; k < n; k++)
				o += (size_t)snprintf(got + o, sizeof(got) - o,
						      "%s%s", k ? "|" : "",
						      addrs[k].text);
			CHECK_STR(got, c->want);
		} else {
			CHECK_STR(err, c->want);
			CHECK_INT(n, 0);
		}
	}
	test_state.label = NULL;
}

static void test_parse_sockaddr(void)
{
	struct listen_addr a[2];
	size_t n;
	char err[128];
	CHECK(listen_parse("10.1.2.3:2525,[2001:db8::5]:110", a, 2, &n, err,
			   sizeof(err)) == 0);
	CHECK_INT(n, 2);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a[0].ss;
	CHECK_INT(sin->sin_family, AF_INET);
	CHECK_INT(ntohs(sin->sin_port), 2525);
	CHECK_INT(ntohl(sin->sin_addr.s_addr), 0x0a010203);
	CHECK_INT(a[0].len, sizeof(struct sockaddr_in));
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a[1].ss;
	CHECK_INT(sin6->sin6_family, AF_INET6);
	CHECK_INT(ntohs(sin6->sin6_port), 110);
	CHECK_INT(a[1].len, sizeof(struct sockaddr_in6));
}

static void test_open(void)
{
	struct listen_addr a;
	size_t n;
	char err[256] = "";
	CHECK(listen_parse("127.0.0.1:0", &a, 1, &n, err, sizeof(err)) == 0);
	int fd = listen_open(&a, err, sizeof(err));
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	int acc = 0;
	socklen_t al = sizeof(acc);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) == 0 && acc);

	/* bind the same port again: the message an admin reads */
	struct sockaddr_in bound;
	socklen_t bl = sizeof(bound);
	CHECK(getsockname(fd, (struct sockaddr *)&bound, &bl) == 0);
	char spec[64], want[128];
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", ntohs(bound.sin_port));
	CHECK(listen_parse(spec, &a, 1, &n, err, sizeof(err)) == 0);
	CHECK(listen_open(&a, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "%s: Address already in use", spec);
	CHECK_STR(err, want);

	/* a client connects and the peer address reads as loopback */
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&bound, bl) == 0);
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	int s = -1;
	for (int tries = 0; tries < 100 && s < 0; tries++) {
		s = accept(fd, (struct sockaddr *)&peer, &pl);
		if (s < 0)
			usleep(1000);
	}
	CHECK(s >= 0);
	char ip[64];
	CHECK_STR(sockaddr_ip_text((struct sockaddr *)&peer, ip, sizeof(ip)),
		  "127.0.0.1");
	CHECK(sockaddr_is_loopback((struct sockaddr *)&peer));
	if (s >= 0)
		close(s);
	close(c);
	close(fd);
}

static void test_open_v6(void)
{
	struct listen_addr a;
	size_t n;
	char err[256];
	CHECK(listen_parse("[::1]:0", &a, 1, &n, err, sizeof(err)) == 0);
	int fd = listen_open(&a, err, sizeof(err));
	if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
		return; /* no IPv6 loopback on this machine */
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	int v6only = 0;
	socklen_t ol = sizeof(v6only);
	CHECK(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol) == 0);
	CHECK(v6only == 1);
	close(fd);
}

static void test_ip_text(void)
{
	static const struct {
		const char *label;
		int family;
		const char *addr;
		const char *text;
		int loopback;
	} cases[] = {
		{"v4 loopback", AF_INET, "127.0.0.1", "127.0.0.1", 1},
		{"v4 loopback range", AF_INET, "127.255.0.9", "127.255.0.9", 1},
		{"v4 public", AF_INET, "203.0.113.9", "203.0.113.9", 0},
		{"v4 128", AF_INET, "128.0.0.1", "128.0.0.1", 0},
		{"v6 loopback", AF_INET6, "::1", "::1", 1},
		{"v6 public", AF_INET6, "2001:db8::9", "2001:db8::9", 0},
		{"v4-mapped loopback", AF_INET6, "::ffff:127.0.0.2", "127.0.0.2", 1},
		{"v4-mapped public", AF_INET6, "::ffff:198.51.100.1",
		 "198.51.100.1", 0},
		{"v6 any", AF_INET6, "::", "::", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		test_state.label = cases[i].label;
		if (cases[i].family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_family = AF_INET;
			CHECK(inet_pton(AF_INET, cases[i].addr, &sin->sin_addr) == 1);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_family = AF_INET6;
			CHECK(inet_pton(AF_INET6, cases[i].addr,
					&sin6->sin6_addr) == 1);
		}
		char buf[64];
		CHECK_STR(sockaddr_ip_text((struct sockaddr *)&ss, buf,
					   sizeof(buf)),
			  cases[i].text);
		CHECK_INT(sockaddr_is_loopback((struct sockaddr *)&ss),
			  cases[i].loopback);
	}
	test_state.label = NULL;
}

TEST_SUITE(listen, {"parse_table", test_parse_table},
	   {"parse_sockaddr", test_parse_sockaddr}, {"open", test_open},
	   {"open_v6", test_open_v6}, {"ip_text", test_ip_text});
