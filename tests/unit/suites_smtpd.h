#define SMTPD_SUITES(X) X(smtp_parse) X(smtp_data) X(smtp_session) /* X(name) per suite */
