"""Cross-modal dreams: what one net perceives steers what the other dreams.

links (the shared label space: which image classes each sound class means), perceive (a soundtrack heard window by
window, pictures and a film's shots seen, as tracks of confidence over time), steer (a track through the links:
the other net's class target and its weight at any time, which a schedule's moments carry to the dream).
"""
