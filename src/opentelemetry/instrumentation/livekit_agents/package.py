_instruments = ("livekit-agents >= 1.0, < 3",)
