#define STORE_SUITES(X) X(store) X(store_mail) X(store_proc) X(password) X(migrate)
