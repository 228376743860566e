"""kvk.preprocessing: Keras' image loading helpers."""
