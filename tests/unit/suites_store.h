#define STORE_SUITES(X) X(store) X(password) X(migrate)
