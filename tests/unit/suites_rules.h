#define RULES_SUITES(X) /* X(name) per suite */
