/* ImageNet class names (tables generated from data/imagenet_class_index.json at build time) and
 * Keras' decode_predictions. */
#include "kvk/labels.h"

#include <math.h>
#include <stdlib.h>

extern const int kvk_imagenet_class_count;
extern const char *const kvk_imagenet_wnids[];
extern const char *const kvk_imagenet_labels[];

const char *kvk_imagenet_wnid(int index) {
    return index >= 0 && index < kvk_imagenet_class_count ? kvk_imagenet_wnids[index] : NULL;
}

const char *kvk_imagenet_label(int index) {
    return index >= 0 && index < kvk_imagenet_class_count ? kvk_imagenet_labels[index] : NULL;
}

/* Ranks `a` before `b`: Keras takes argsort()[-k:][::-1], so the larger score first, NaN above
 * everything (NumPy sorts NaN last), and on ties the larger index first. */
static int ranks_before(float sa, int a, float sb, int b) {
    int na = isnan(sa), nb = isnan(sb);
    if (na != nb) return na;
    if (!na && sa != sb) return sa > sb;
    return a > b;
}

int kvk_decode_predictions(const float *scores, int classes, int k, kvk_prediction *out) {
    if (!scores || !out || classes <= 0 || k <= 0) return 0;
    if (k > classes) k = classes;
    int named = classes == kvk_imagenet_class_count;
    int n = 0;
    /* Insertion into the sorted top-k list: k is small and classes is about 1000. */
    for (int i = 0; i < classes; i++) {
        float s = scores[i];
        if (n == k && !ranks_before(s, i, out[n - 1].probability, out[n - 1].index)) continue;
        int j = n < k ? n++ : k - 1;
        while (j > 0 && ranks_before(s, i, out[j - 1].probability, out[j - 1].index)) {
            out[j] = out[j - 1];
            j--;
        }
        out[j].index = i;
        out[j].probability = s;
        out[j].wnid = named ? kvk_imagenet_wnids[i] : NULL;
        out[j].label = named ? kvk_imagenet_labels[i] : NULL;
    }
    return n;
}
