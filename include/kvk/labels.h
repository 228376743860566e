/* The 1000 ImageNet classes and decode_predictions. */
#ifndef KVK_LABELS_H
#define KVK_LABELS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvk_prediction {
    int index;         /* class index 0..999 */
    const char *wnid;  /* "n02504458" */
    const char *label; /* "African_elephant" */
    float probability;
} kvk_prediction;

/* The wnid and label of ImageNet class `index` (0..999), or NULL for an invalid index. */
const char *kvk_imagenet_wnid(int index);
const char *kvk_imagenet_label(int index);

/* Keras' decode_predictions for one row of `classes` scores: the top `k` (k <= classes) in
 * descending order, ties broken as numpy's argsort does (stable on the reversed order: the
 * higher index first). Returns the number written. Rows with classes != 1000 get
 * wnid/label NULL. */
int kvk_decode_predictions(const float *scores, int classes, int k, kvk_prediction *out);

#ifdef __cplusplus
}
#endif
#endif
