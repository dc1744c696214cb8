/*
 * gmime_parse: the floor under `mailblock explain` set by its MIME library (issue 4's speed
 * target). Reads every regular file in the folders given, parses each with GMime the way
 * the bounce reader does (a memory stream over the file, one reused parser, the whole
 * message built, then released) and does nothing else: no bounce reading, no classifier,
 * no output. Bounces per second of this program bound what any reader built on GMime can
 * reach on the same input.
 *
 *   gmime_parse DIR...      prints "<files> files, <failed> not parsed"
 */
#include <dirent.h>
#include <errno.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILE (16u << 20)

static unsigned char *read_file(const char *path, size_t size, size_t *len)
{
    if (size == 0 || size > MAX_FILE)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char *buf = malloc(size);
    size_t n = buf != NULL ? fread(buf, 1, size, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* 0 when GMime built a message with at least one header */
static int parse_one(GMimeParser *parser, GMimeStream *empty, const unsigned char *buf,
                     size_t len)
{
    GByteArray *ba = g_byte_array_sized_new((guint)len);
    g_byte_array_append(ba, buf, (guint)len);
    GMimeStream *st = g_mime_stream_mem_new_with_byte_array(ba);
    g_mime_parser_init_with_stream(parser, st);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_mime_parser_init_with_stream(parser, empty);
    int rc = -1;
    if (msg != NULL) {
        GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
        rc = hl != NULL && g_mime_header_list_get_count(hl) > 0 ? 0 : -1;
        g_object_unref(msg);
    }
    g_object_unref(st);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gmime_parse DIR...\n");
        return 2;
    }
    g_mime_init();
    GMimeParser *parser = g_mime_parser_new();
    GMimeStream *empty = g_mime_stream_mem_new();
    unsigned long files = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            fprintf(stderr, "gmime_parse: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
                continue;
            size_t len = 0;
            unsigned char *buf = read_file(path, (size_t)sb.st_size, &len);
            files++;
            if (buf == NULL || parse_one(parser, empty, buf, len) != 0)
                failed++;
            free(buf);
        }
        closedir(d);
    }
    g_object_unref(parser);
    g_object_unref(empty);
    g_mime_shutdown();
    printf("%lu files, %lu not parsed\n", files, failed);
    return 0;
}
