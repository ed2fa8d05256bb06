"""Media in and out: ffmpeg streams and probing (ffmpeg), loudness and true peak (loudness), optical flow (flow)."""
