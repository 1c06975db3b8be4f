#define RULES_SUITES(X) X(rules_header) X(rules_eval) X(rules_sieve) X(rules_store) X(rules_deliver) X(rules_body) X(rules_auth)
