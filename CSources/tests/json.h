/* A small JSON reader for the test vectors (tests only): objects, arrays,
 * strings without unicode escapes, integers, true/false/null. */
#ifndef LSX_TEST_JSON_H
#define LSX_TEST_JSON_H
#include <stddef.h>
#include <stdint.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_kind;

typedef struct json {
    json_kind kind;
    double number;
    char *string;          /* JSON_STRING, NUL-terminated */
    struct json **items;   /* JSON_ARRAY values, JSON_OBJECT values */
    char **keys;           /* JSON_OBJECT keys */
    size_t count;
} json;

json *json_parse_file(const char *path);
void json_free(json *value);
const json *json_get(const json *object, const char *key);  /* NULL if absent */
/* Hex string member decoded into a new buffer; *len receives its length. */
uint8_t *json_hex(const json *object, const char *key, size_t *len);
/* A hex string value (an array item, say) decoded the same way; NULL if not a string. */
uint8_t *json_hex_value(const json *value, size_t *len);
double json_number(const json *object, const char *key);
const char *json_string(const json *object, const char *key);
#endif
