#define OUTBOUND_SUITES(X) /* X(name) per suite */
