/* A small JSON reader for the test vectors (tests only). */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *p, *end; } cursor;

static void skip(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static json *parse_value(cursor *c);

static char *parse_string(cursor *c) {
    if (c->p >= c->end || *c->p != '"') return NULL;
    c->p++;
    const char *start = c->p;
    while (c->p < c->end && *c->p != '"') {
        if (*c->p == '\\') c->p++;
        c->p++;
    }
    if (c->p >= c->end) return NULL;
    size_t n = (size_t)(c->p - start);
    char *s = malloc(n + 1), *o = s;
    for (const char *q = start; q < c->p; q++) {
        if (*q == '\\') {
            q++;
            *o++ = *q == 'n' ? '\n' : *q == 't' ? '\t' : *q;
        } else {
            *o++ = *q;
        }
    }
    *o = 0;
    c->p++;
    return s;
}

static json *make(json_kind kind) {
    json *v = calloc(1, sizeof *v);
    v->kind = kind;
    return v;
}

static json *parse_container(cursor *c, int object) {
    json *v = make(object ? JSON_OBJECT : JSON_ARRAY);
    c->p++;
    skip(c);
    if (c->p < c->end && *c->p == (object ? '}' : ']')) {
        c->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip(c);
        if (object) {
            if (!(key = parse_string(c))) goto fail;
            skip(c);
            if (c->p >= c->end || *c->p != ':') { free(key); goto fail; }
            c->p++;
        }
        json *item = parse_value(c);
        if (!item) { free(key); goto fail; }
        v->items = realloc(v->items, (v->count + 1) * sizeof *v->items);
        v->items[v->count] = item;
        if (object) {
            v->keys = realloc(v->keys, (v->count + 1) * sizeof *v->keys);
            v->keys[v->count] = key;
        }
        v->count++;
        skip(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (c->p < c->end && *c->p == (object ? '}' : ']')) { c->p++; return v; }
        goto fail;
    }
fail:
    json_free(v);
    return NULL;
}

static json *parse_value(cursor *c) {
    skip(c);
    if (c->p >= c->end) return NULL;
    char ch = *c->p;
    if (ch == '{') return parse_container(c, 1);
    if (ch == '[') return parse_container(c, 0);
    if (ch == '"') {
        char *s = parse_string(c);
        if (!s) return NULL;
        json *v = make(JSON_STRING);
        v->string = s;
        return v;
    }
    if (!strncmp(c->p, "true", 4) || !strncmp(c->p, "false", 5)) {
        json *v = make(JSON_BOOL);
        v->number = ch == 't';
        c->p += ch == 't' ? 4 : 5;
        return v;
    }
    if (!strncmp(c->p, "null", 4)) { c->p += 4; return make(JSON_NULL); }
    char *endp;
    double d = strtod(c->p, &endp);
    if (endp == c->p) return NULL;
    c->p = endp;
    json *v = make(JSON_NUMBER);
    v->number = d;
    return v;
}

json *json_parse_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    cursor c = {buf, buf + got};
    json *v = parse_value(&c);
    free(buf);
    return v;
}

void json_free(json *v) {
    if (!v) return;
    for (size_t i = 0; i < v->count; i++) {
        json_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    free(v);
}

const json *json_get(const json *o, const char *key) {
    if (!o || o->kind != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < o->count; i++)
        if (!strcmp(o->keys[i], key)) return o->items[i];
    return NULL;
}

uint8_t *json_hex(const json *o, const char *key, size_t *len) { return json_hex_value(json_get(o, key), len); }

uint8_t *json_hex_value(const json *v, size_t *len) {
    if (!v || v->kind != JSON_STRING) { *len = 0; return NULL; }
    size_t n = strlen(v->string) / 2;
    uint8_t *out = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned byte;
        sscanf(v->string + 2 * i, "%2x", &byte);
        out[i] = (uint8_t)byte;
    }
    *len = n;
    return out;
}

double json_number(const json *o, const char *key) {
    const json *v = json_get(o, key);
    return v && v->kind == JSON_NUMBER ? v->number : -1;
}

const char *json_string(const json *o, const char *key) {
    const json *v = json_get(o, key);
    return v && v->kind == JSON_STRING ? v->string : NULL;
}
