"""One pipeline per modality, used by dreaming and style alike: image, audio, film; style transfer beside them."""
