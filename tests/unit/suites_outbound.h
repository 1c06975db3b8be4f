#define OUTBOUND_SUITES(X) X(outbound_reply) X(outbound_misc) X(outbound_mx) X(outbound_dsn) X(outbound_dkim) X(config_outbound) X(outbound_store) X(outbound_sendlimit) X(outbound_writer)
