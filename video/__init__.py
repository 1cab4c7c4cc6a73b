"""Video: WHIP/WHEP signaling, the aiortc relay and conference rooms (issue #7)."""
