#define POP3D_SUITES(X) X(pop3_parse) X(pop3_session) X(pop3_visit) /* X(name) per suite */
