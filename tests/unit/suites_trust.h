#define TRUST_SUITES(X) X(trust_spf_record) X(trust_tags) X(trust_dkim_canon) X(trust_dmarc) X(trust_misc) X(trust_greylist) X(trust_trace) X(trust_trace_queue) X(trust_psl) X(trust_canon)
