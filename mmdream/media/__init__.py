"""Media in and out: pictures and the dream space (picture), ffmpeg streams and probing (ffmpeg), loudness and true
peak (loudness), optical flow (flow)."""
