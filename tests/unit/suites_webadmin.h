#define WEBADMIN_SUITES(X) /* X(name) per suite */
