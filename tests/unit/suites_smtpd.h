#define SMTPD_SUITES(X) /* X(name) per suite */
