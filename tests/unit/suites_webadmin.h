#define WEBADMIN_SUITES(X) X(web_parse) X(web_session) /* X(name) per suite */
