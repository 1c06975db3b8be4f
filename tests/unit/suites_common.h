#define COMMON_SUITES(X) X(buf) X(config) X(listen) X(log) X(addr) X(tls) X(addr_idn)
