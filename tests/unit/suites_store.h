#define STORE_SUITES(X) X(store) X(store_mail) X(password) X(migrate)
