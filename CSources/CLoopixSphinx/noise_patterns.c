/* The handshake patterns of the Noise specification (sections 7.3 to 7.5) as
 * token lists, and the parsing of a protocol name with its psk modifiers (9.2). */
#include "noise_internal.h"

#define PROTOCOL_PREFIX "Noise_"
#define SUITE_SUFFIX "_25519_ChaChaPoly_BLAKE2b"
#define PSK_MODIFIER "psk"
/* Pattern names are short ("I1X1"); with modifiers the longest we accept
 * is well under this. */
#define MAX_PATTERN_NAME 48

/* A pattern as the specification writes it: the pre-messages (whether each
 * side's static key is known beforehand) and the messages, separated by
 * '|', the initiator's first. */
typedef struct pattern_text {
    const char *name;
    uint8_t initiator_static_known, responder_static_known;
    const char *messages;
} pattern_text;

static const pattern_text patterns[] = {
    /* One-way (7.3) */
    {"N", 0, 1, "e, es"},
    {"K", 1, 1, "e, es, ss"},
    {"X", 0, 1, "e, es, s, ss"},
    /* Interactive, fundamental (7.4) */
    {"NN", 0, 0, "e | e, ee"},
    {"NK", 0, 1, "e, es | e, ee"},
    {"NX", 0, 0, "e | e, ee, s, es"},
    {"XN", 0, 0, "e | e, ee | s, se"},
    {"XK", 0, 1, "e, es | e, ee | s, se"},
    {"XX", 0, 0, "e | e, ee, s, es | s, se"},
    {"KN", 1, 0, "e | e, ee, se"},
    {"KK", 1, 1, "e, es, ss | e, ee, se"},
    {"KX", 1, 0, "e | e, ee, se, s, es"},
    {"IN", 0, 0, "e, s | e, ee, se"},
    {"IK", 0, 1, "e, es, s, ss | e, ee, se"},
    {"IX", 0, 0, "e, s | e, ee, se, s, es"},
    /* Interactive, deferred (7.5) */
    {"NK1", 0, 1, "e | e, ee, es"},
    {"NX1", 0, 0, "e | e, ee, s | es"},
    {"X1N", 0, 0, "e | e, ee | s | se"},
    {"X1K", 0, 1, "e, es | e, ee | s | se"},
    {"XK1", 0, 1, "e | e, ee, es | s, se"},
    {"X1K1", 0, 1, "e | e, ee, es | s | se"},
    {"X1X", 0, 0, "e | e, ee, s, es | s | se"},
    {"XX1", 0, 0, "e | e, ee, s | es, s, se"},
    {"X1X1", 0, 0, "e | e, ee, s | es, s | se"},
    {"K1N", 1, 0, "e | e, ee | se"},
    {"K1K", 1, 1, "e, es | e, ee | se"},
    {"KK1", 1, 1, "e | e, ee, se, es"},
    {"K1K1", 1, 1, "e | e, ee, es | se"},
    {"K1X", 1, 0, "e | e, ee, s, es | se"},
    {"KX1", 1, 0, "e | e, ee, se, s | es"},
    {"K1X1", 1, 0, "e | e, ee, s | se, es"},
    {"I1N", 0, 0, "e, s | e, ee | se"},
    {"I1K", 0, 1, "e, es, s | e, ee | se"},
    {"IK1", 0, 1, "e, s | e, ee, se, es"},
    {"I1K1", 0, 1, "e, s | e, ee, es | se"},
    {"I1X", 0, 0, "e, s | e, ee, s, es | se"},
    {"IX1", 0, 0, "e, s | e, ee, se, s | es"},
    {"I1X1", 0, 0, "e, s | e, ee, s | se, es"},
};

static int token_of(const char *word, size_t len) {
    static const struct {
        const char *text;
        lsxi_noise_token token;
    } words[] = {{"e", LSXI_NOISE_TOKEN_E},   {"s", LSXI_NOISE_TOKEN_S},   {"ee", LSXI_NOISE_TOKEN_EE},
                 {"es", LSXI_NOISE_TOKEN_ES}, {"se", LSXI_NOISE_TOKEN_SE}, {"ss", LSXI_NOISE_TOKEN_SS}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i].text) == len && memcmp(words[i].text, word, len) == 0) return (int)words[i].token;
    return 0;
}

/* Fills the messages of `pattern` from the table's text. The table is ours,
 * so a malformed entry is a bug that the tests catch (every pattern is run). */
static int load_messages(lsxi_noise_pattern *pattern, const char *text) {
    size_t message = 0;
    for (const char *p = text; *p != '\0';) {
        if (*p == ' ' || *p == ',') {
            p++;
            continue;
        }
        if (*p == '|') {
            if (++message >= LSXI_NOISE_MAX_MESSAGES) return LSX_ERR_NOISE_PROTOCOL;
            p++;
            continue;
        }
        size_t len = strcspn(p, " ,|");
        int token = token_of(p, len);
        if (token == 0 || pattern->token_count[message] >= LSXI_NOISE_MAX_TOKENS) return LSX_ERR_NOISE_PROTOCOL;
        pattern->tokens[message][pattern->token_count[message]++] = (uint8_t)token;
        p += len;
    }
    pattern->message_count = (uint8_t)(message + 1);
    return LSX_OK;
}

/* pskN: psk0 opens the first message, pskN (N >= 1) closes message N. */
static int apply_psk_modifier(lsxi_noise_pattern *pattern, const char *modifier, size_t len) {
    const size_t prefix = strlen(PSK_MODIFIER);
    if (len != prefix + 1 || memcmp(modifier, PSK_MODIFIER, prefix) != 0) return LSX_ERR_NOISE_PROTOCOL;
    const char digit = modifier[prefix];
    if (digit < '0' || digit > '9') return LSX_ERR_NOISE_PROTOCOL;
    const unsigned position = (unsigned)(digit - '0');
    if (position > pattern->message_count) return LSX_ERR_NOISE_PROTOCOL;
    const size_t message = position == 0 ? 0 : position - 1;
    uint8_t *tokens = pattern->tokens[message];
    uint8_t *count = &pattern->token_count[message];
    if (*count >= LSXI_NOISE_MAX_TOKENS) return LSX_ERR_NOISE_PROTOCOL;
    if (position == 0) {
        if (*count > 0 && tokens[0] == LSXI_NOISE_TOKEN_PSK) return LSX_ERR_NOISE_PROTOCOL; /* psk0 twice */
        memmove(tokens + 1, tokens, *count);
        tokens[0] = LSXI_NOISE_TOKEN_PSK;
    } else {
        if (tokens[*count - 1] == LSXI_NOISE_TOKEN_PSK) return LSX_ERR_NOISE_PROTOCOL; /* pskN twice */
        tokens[*count] = LSXI_NOISE_TOKEN_PSK;
    }
    (*count)++;
    pattern->psk_count++;
    return LSX_OK;
}

int lsxi_noise_pattern_parse(lsxi_noise_pattern *pattern, const char *protocol_name) {
    const size_t prefix_len = strlen(PROTOCOL_PREFIX), suffix_len = strlen(SUITE_SUFFIX);
    if (protocol_name == NULL) return LSX_ERR_ARGUMENT;
    const size_t len = strlen(protocol_name);
    if (len <= prefix_len + suffix_len || memcmp(protocol_name, PROTOCOL_PREFIX, prefix_len) != 0 ||
        strcmp(protocol_name + len - suffix_len, SUITE_SUFFIX) != 0)
        return LSX_ERR_NOISE_PROTOCOL;
    /* The pattern with its modifiers, e.g. "XKpsk3" or "NNpsk0+psk2". */
    const char *full = protocol_name + prefix_len;
    const size_t full_len = len - prefix_len - suffix_len;
    if (full_len >= MAX_PATTERN_NAME || memchr(full, '_', full_len) != NULL) return LSX_ERR_NOISE_PROTOCOL;
    /* The base name is upper-case letters and digits; modifiers start lower-case. */
    size_t base_len = 0;
    while (base_len < full_len && ((full[base_len] >= 'A' && full[base_len] <= 'Z') ||
                                   (full[base_len] >= '0' && full[base_len] <= '9')))
        base_len++;

    memset(pattern, 0, sizeof *pattern);
    const pattern_text *found = NULL;
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
        if (strlen(patterns[i].name) == base_len && memcmp(patterns[i].name, full, base_len) == 0) found = &patterns[i];
    if (found == NULL) return LSX_ERR_NOISE_PROTOCOL;
    pattern->initiator_static_known = found->initiator_static_known;
    pattern->responder_static_known = found->responder_static_known;
    int rc = load_messages(pattern, found->messages);
    if (rc != LSX_OK) return rc;
    pattern->one_way = pattern->message_count == 1;

    for (size_t at = base_len; at < full_len;) {
        size_t modifier_len = 0;
        while (at + modifier_len < full_len && full[at + modifier_len] != '+') modifier_len++;
        if ((rc = apply_psk_modifier(pattern, full + at, modifier_len)) != LSX_OK) return rc;
        at += modifier_len;
        if (at < full_len && ++at == full_len) return LSX_ERR_NOISE_PROTOCOL; /* a trailing '+' */
    }
    return LSX_OK;
}
