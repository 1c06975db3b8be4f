#define WEBADMIN_SUITES(X) X(web_parse) X(web_session) X(web_dkimrec) /* X(name) per suite */
