"""The car as one device among the home's: the device registry, automations (triggers,
conditions, actions) and scenes, and the Home Assistant MQTT bridge."""
