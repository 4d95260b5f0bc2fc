"""An English multiple-choice sample in CS-HellaSwag's format (``data/samples/en_hellaswag.jsonl``).

Continual pretraining into Czech makes a model forget English; an English task evaluated in the
loop beside CS-HellaSwag shows it. Items are built like the Czech sample's: an activity label,
an actor doing one or two steps of an everyday activity, a connector and the actor named again
("Then, the young cook"), and four endings of which
the gold one is the activity's next step and three are steps of other activities. Gold positions
are balanced over 0-3. Fields ``query``, ``choices``, ``gold``: llm-foundry's
``multiple_choice`` format, as CS-HellaSwag (``CZLC/cs_hellaswag``) has them.

Regenerate with ``python -m sample_corpora.hellaswag_en`` (byte-identical for a seed).
Hand-written by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from sample_corpora.phrases_cs_activities import Activity

__all__ = ["EN_ACTIVITIES", "build_en_hellaswag", "write_en_hellaswag"]

SEED = 1234
N_ITEMS = 100
CONNECTORS = ("Then", "Next", "After that", "Afterwards")
FINAL_CONNECTOR = "Finally"


def _definite(actor: str) -> str:
    """``A young cook`` -> ``the young cook`` (the actor named again)."""
    first, _, rest = actor.partition(" ")
    return f"the {rest}" if first in ("A", "An", "The") else actor


EN_ACTIVITIES: tuple[Activity, ...] = (
    Activity(
        "Cooking",
        ("A man in an apron", "A young cook", "An older woman", "The chef"),
        (
            "puts a large pot of salted water on the stove",
            "peels an onion and chops it into small pieces",
            "fries the onion in a little oil until it turns golden",
            "adds the tomatoes and lets the sauce simmer",
            "drains the pasta and mixes it with the sauce",
            "serves the dish on warm plates",
        ),
    ),
    Activity(
        "Washing a car",
        ("A teenager", "A man in shorts", "A woman with a bucket", "The driver"),
        (
            "parks the car in the shade and closes the windows",
            "rinses the whole car with the garden hose",
            "scrubs the doors with a soapy sponge",
            "cleans the wheels with a stiff brush",
            "rinses the whole car again with clean water",
            "dries the paint with a soft towel",
        ),
    ),
    Activity(
        "Changing a tyre",
        ("A driver", "A young woman", "A mechanic", "An old man"),
        (
            "stops the car on the side of the road and turns on the hazard lights",
            "takes the spare wheel, the jack and the wrench out of the boot",
            "loosens the nuts on the flat wheel",
            "lifts the car with the jack",
            "takes off the flat wheel and puts on the spare",
            "tightens the nuts and lowers the car",
        ),
    ),
    Activity(
        "Pitching a tent",
        ("A scout", "A hiker", "A father with two children", "A young couple"),
        (
            "clears the ground of stones and branches",
            "spreads the tent out on the grass",
            "pushes the poles through the sleeves of the tent",
            "hammers the pegs into the ground",
            "stretches the guy ropes so the tent stands firm in the wind",
            "carries the sleeping bags inside",
        ),
    ),
    Activity(
        "Painting a wall",
        ("A painter", "A student", "A woman in old clothes", "A handyman"),
        (
            "moves the furniture to the middle of the room",
            "covers the floor with an old sheet",
            "tapes the edges of the window frames",
            "stirs the paint in the tin with a stick",
            "rolls the first coat of paint onto the wall",
            "removes the tape once the paint is dry",
        ),
    ),
    Activity(
        "Baking bread",
        ("A baker", "A grandmother", "A young man", "A girl"),
        (
            "mixes flour, water, salt and yeast in a large bowl",
            "kneads the dough on the table for ten minutes",
            "covers the bowl with a cloth and lets the dough rise",
            "shapes the dough into a round loaf",
            "slides the loaf into the hot oven",
            "taps the bottom of the loaf to check that it sounds hollow",
        ),
    ),
    Activity(
        "Planting a tree",
        ("A gardener", "A boy", "A retired teacher", "A volunteer"),
        (
            "chooses a sunny spot in the garden",
            "digs a hole twice as wide as the roots",
            "loosens the roots of the young tree by hand",
            "sets the tree in the hole and fills it with soil",
            "presses the soil down around the trunk",
            "waters the tree with a full can of water",
        ),
    ),
    Activity(
        "Swimming",
        ("A swimmer", "A girl in a red cap", "An old man", "A lifeguard"),
        (
            "puts on goggles and a swimming cap",
            "takes a quick shower by the pool",
            "dives into the water from the edge",
            "swims ten lengths of front crawl",
            "rests for a moment holding on to the rope",
            "climbs out of the water up the ladder and wraps up in a towel",
        ),
    ),
    Activity(
        "Making coffee",
        ("A barista", "A sleepy student", "An office worker", "A waiter"),
        (
            "fills the kettle with fresh water and switches it on",
            "grinds a handful of coffee beans",
            "puts the ground coffee into the filter",
            "pours the hot water slowly over the coffee",
            "adds a splash of milk to the cup",
            "hands the cup to the customer with a smile",
        ),
    ),
    Activity(
        "Cleaning windows",
        ("A cleaner", "A woman in gloves", "A man on a ladder", "A housekeeper"),
        (
            "fills a bucket with warm water and a little soap",
            "wipes the dust off the window frame",
            "washes the glass with a soft sponge",
            "pulls the squeegee across the glass from top to bottom",
            "polishes the corners with a dry cloth",
            "carries the bucket back to the bathroom",
        ),
    ),
    Activity(
        "Repairing a bicycle",
        ("A cyclist", "A boy", "A mechanic in overalls", "A woman"),
        (
            "turns the bicycle upside down on the grass",
            "takes the wheel off the frame",
            "pulls the inner tube out of the tyre",
            "finds the hole by dipping the tube in water",
            "glues a patch over the hole",
            "pumps up the tyre and puts the wheel back on",
        ),
    ),
    Activity(
        "Wrapping a present",
        ("A girl", "A father", "A shop assistant", "A grandfather"),
        (
            "measures a piece of wrapping paper around the box",
            "cuts the paper with scissors",
            "folds the paper neatly over the box",
            "fixes the edges with tape",
            "ties a ribbon around the parcel",
            "writes a name on a small card and attaches it",
        ),
    ),
    Activity(
        "Making a bed",
        ("A hotel maid", "A child", "A young man", "A mother"),
        (
            "strips the old sheets off the mattress",
            "spreads a clean sheet over the mattress",
            "tucks the corners of the sheet under the mattress",
            "puts fresh covers on the pillows",
            "shakes the duvet and lays it over the bed",
            "puts the pillows at the head of the bed",
        ),
    ),
    Activity(
        "Ice skating",
        ("A skater", "A little girl", "A young man", "A coach"),
        (
            "laces up the skates on the bench",
            "steps carefully onto the ice",
            "glides slowly along the edge of the rink",
            "speeds up in the middle of the rink",
            "spins around once with arms stretched out",
            "sits down on the bench and takes the skates off",
        ),
    ),
    Activity(
        "Washing the dishes",
        ("A man", "A teenager", "A woman", "A cook"),
        (
            "scrapes the leftovers from the plates into the bin",
            "fills the sink with hot water and washing-up liquid",
            "washes the glasses first",
            "scrubs the pans with a brush",
            "rinses everything under the tap",
            "stacks the clean dishes on the drying rack",
        ),
    ),
    Activity(
        "Fishing",
        ("An angler", "An old man", "A boy with his grandfather", "A woman in boots"),
        (
            "sits down on a folding chair at the river bank",
            "fixes a worm on the hook",
            "casts the line far into the river",
            "waits quietly and watches the float",
            "reels in a small fish",
            "carefully unhooks the fish and puts it back into the water",
        ),
    ),
    Activity(
        "Mowing the lawn",
        ("A gardener", "A neighbour", "A teenager", "A man in a cap"),
        (
            "picks up sticks and toys from the grass",
            "fills the lawnmower with petrol",
            "pulls the cord to start the engine",
            "mows the grass in straight lines",
            "empties the full grass box onto the compost",
            "sweeps the cut grass off the path",
        ),
    ),
    Activity(
        "Brushing a dog",
        ("A girl", "A dog owner", "A groomer", "An old woman"),
        (
            "calls the dog and tells it to sit",
            "brushes the fur on its back",
            "untangles a knot behind its ear",
            "brushes the long hair on its tail",
            "checks its paws for thorns",
            "gives the dog a treat",
        ),
    ),
    Activity(
        "Building a snowman",
        ("A boy", "A girl in mittens", "A father", "A child in a red hat"),
        (
            "rolls a small snowball across the garden until it grows large",
            "rolls a second, smaller ball and lifts it on top of the first",
            "places a head on top of the body",
            "pushes a carrot into the head for a nose",
            "presses two pieces of coal into the head for eyes",
            "wraps an old scarf around the snowman's neck",
        ),
    ),
    Activity(
        "Playing the guitar",
        ("A musician", "A student", "A young woman", "A street performer"),
        (
            "takes the guitar out of its case",
            "tunes the strings one by one",
            "plays a few chords to warm up",
            "starts to play a slow song",
            "sings the chorus with the audience",
            "puts the guitar back into its case",
        ),
    ),
)


def build_en_hellaswag(seed: int = SEED, n_items: int = N_ITEMS) -> list[dict[str, object]]:
    """The items: one per (activity, step) pair at most, golds balanced over 0-3."""
    rng = random.Random(f"{seed}:en_hellaswag")
    pairs = [(a, i) for a, act in enumerate(EN_ACTIVITIES) for i in range(len(act.steps) - 1)]
    if n_items > len(pairs):
        raise ValueError(f"at most {len(pairs)} items, asked for {n_items}")
    golds = [k % 4 for k in range(n_items)]
    rng.shuffle(golds)
    rng.shuffle(pairs)
    items: list[dict[str, object]] = []
    for a, i in pairs[:n_items]:
        act = EN_ACTIVITIES[a]
        actor = rng.choice(act.actors)
        context = f"{actor} {act.steps[i]}."
        if i >= 1 and rng.random() < 0.5:
            context = f"{actor} {act.steps[i - 1]} and then {act.steps[i]}."
        conn = FINAL_CONNECTOR if i + 1 == len(act.steps) - 1 else rng.choice(CONNECTORS)
        others = rng.sample([b for b in range(len(EN_ACTIVITIES)) if b != a], 3)
        endings = [f"{rng.choice(EN_ACTIVITIES[b].steps)}." for b in others]
        gold = golds[len(items)]
        endings.insert(gold, f"{act.steps[i + 1]}.")
        query = f"{act.label}: {context} {conn}, {_definite(actor)}"
        items.append({"query": query, "choices": endings, "gold": gold})
    return items


def write_en_hellaswag(path: str | Path, seed: int = SEED) -> Path:
    """Write the sample as JSONL (sorted keys, UTF-8, one item per line)."""
    out = Path(path)
    lines = [
        json.dumps(item, ensure_ascii=False, sort_keys=True) for item in build_en_hellaswag(seed)
    ]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    write_en_hellaswag(sys.argv[1] if len(sys.argv) > 1 else "data/samples/en_hellaswag.jsonl")
