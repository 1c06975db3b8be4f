#define POP3D_SUITES(X) /* X(name) per suite */
