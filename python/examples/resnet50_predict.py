"""Keras' own ResNet50 example (keras.io/api/applications), with only its imports changed and
the image path taken from the command line."""
import sys

from kvk.applications.resnet50 import ResNet50, preprocess_input, decode_predictions
from kvk.preprocessing import image
import numpy as np

model = ResNet50(weights='imagenet')

img_path = sys.argv[1] if len(sys.argv) > 1 else 'elephant.jpg'
img = image.load_img(img_path, target_size=(224, 224))
x = image.img_to_array(img)
x = np.expand_dims(x, axis=0)
x = preprocess_input(x)

preds = model.predict(x)
# decode the results into a list of tuples (class, description, probability)
# (one such list for each sample in the batch)
print('Predicted:', decode_predictions(preds, top=3)[0])
