"""Hand-written English phrase banks for ``en_web``: how-to activities and encyclopedic entries.

Topics mirror the Czech activity scripts and encyclopedic entries.

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

__all__ = ["EN_ACTIVITIES", "EN_ENTRIES", "EN_GUIDE_INTROS", "EN_GUIDE_TIPS"]

#: English how-to activities as ``(title, steps)``; steps are third-person verb phrases.
EN_ACTIVITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Making vegetable soup",
        (
            "puts a large pot of salted water on the stove",
            "peels an onion and chops it into small pieces",
            "heats a little oil in a pan and fries the onion until golden",
            "adds sliced carrots, potatoes and the fried onion to the pot",
            "lets the soup simmer for about twenty minutes, stirring now and then",
            "tastes the soup and adds salt as needed",
            "ladles the soup into bowls and sprinkles fresh parsley on top",
        ),
    ),
    (
        "Baking bread",
        (
            "pours flour, salt and a pinch of caraway seeds into a large bowl",
            "dissolves the yeast in lukewarm water and adds it to the flour",
            "kneads the dough until it stops sticking to the hands",
            "covers the bowl with a towel and leaves the dough to rise for an hour",
            "shapes the risen dough into a round loaf",
            "brushes the loaf with water and places it in a hot oven",
            "takes the bread out after an hour and lets it cool on a rack",
        ),
    ),
    (
        "Washing a car",
        (
            "parks the car in the yard and fills a bucket with warm water",
            "rinses the body with a hose to remove loose dirt",
            "dips a sponge in soapy water and washes the bonnet and doors",
            "scrubs the wheels with a brush",
            "rinses the whole car again with clean water",
            "dries the paintwork with a soft cloth so that no spots remain",
        ),
    ),
    (
        "Mowing the lawn",
        (
            "wheels the mower out of the shed and checks the fuel",
            "picks up twigs and stones so they do not damage the blade",
            "starts the mower with a pull of the cord",
            "mows the lawn in straight stripes from the fence to the house",
            "empties the full grass box onto the compost heap",
            "trims the edges around the flower beds with shears",
        ),
    ),
    (
        "Changing a tyre",
        (
            "stops the car on level ground and switches on the hazard lights",
            "takes the spare wheel, the jack and the wrench out of the boot",
            "loosens the wheel nuts while the car is still on the ground",
            "raises the car with the jack until the wheel is off the ground",
            "removes the nuts and pulls off the flat tyre",
            "fits the spare wheel and tightens the nuts by hand",
            "lowers the car and tightens the nuts firmly with the wrench",
        ),
    ),
    (
        "Pitching a tent",
        (
            "chooses a flat spot without stones or roots",
            "spreads a groundsheet and lays the tent on top of it",
            "threads the poles through the sleeves and raises the frame",
            "drives the pegs into the ground with a small mallet",
            "tightens the guy lines so the tent stays firm in the wind",
            "throws the waterproof flysheet over the tent and pegs it down",
        ),
    ),
    (
        "Walking the dog",
        (
            "takes the lead from the hook and calls the dog",
            "clips the lead to the collar and opens the door",
            "walks with the dog to the park behind the house",
            "lets the dog off the lead in the meadow",
            "throws a ball and the dog happily brings it back",
            "clips the lead on again and heads home",
        ),
    ),
    (
        "Making coffee",
        (
            "pours coffee beans into the grinder and grinds them finely",
            "fills the portafilter with ground coffee and tamps it down",
            "locks the portafilter into the machine and places a cup underneath",
            "starts the machine and lets the espresso run into the cup",
            "steams cold milk in a small jug",
            "pours the milk foam into the coffee and draws a heart on the surface",
        ),
    ),
    (
        "Planting a tree",
        (
            "digs a hole deep enough for the roots with a spade",
            "puts a little compost at the bottom of the hole",
            "sets the young tree in the hole and straightens it",
            "fills the hole with soil and presses it down gently",
            "drives a stake next to the tree and ties the trunk to it",
            "waters the tree generously with two full cans",
        ),
    ),
)

EN_GUIDE_INTROS: tuple[str, ...] = (
    "This is not difficult once you know the right order of steps.",
    "In this part of our practical skills series we watch how an experienced person does it.",
    "Here is a simple guide based on watching people who do this every week.",
    "Everyone should be able to do this at least once in their life.",
)

EN_GUIDE_TIPS: tuple[str, ...] = (
    "Take your time and prepare everything in advance.",
    "If you are unsure, ask someone with more experience to help.",
    "Safety always comes first.",
    "With a little practice you will be done in half the time.",
    "Always put your tools back where they belong.",
    "The most common mistake is trying to finish too quickly.",
)

#: Encyclopedic entries as ``(title, ordered sentences)``.
EN_ENTRIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Hedgehog",
        (
            "The hedgehog is a small mammal that lives in gardens, parks and woodland edges.",
            "Its back is covered with thousands of spines that protect it from predators.",
            "When threatened, it rolls into a tight ball.",
            "It feeds mainly on insects, earthworms and slugs, so gardeners welcome it.",
            "It is active mostly at night and rests in piles of leaves during the day.",
            "In winter it hibernates, slowing its breathing and heartbeat.",
        ),
    ),
    (
        "Red fox",
        (
            "The red fox is a carnivore of the dog family.",
            "It has reddish fur, a white chest and a long bushy tail.",
            "It lives in forests, fields and on the edges of towns.",
            "It eats small rodents, birds, insects and wild berries.",
            "Cubs are born in spring and both parents feed them.",
            "In folk tales the fox is usually a clever and cunning animal.",
        ),
    ),
    (
        "Linden tree",
        (
            "The small-leaved linden is a deciduous tree that can grow thirty metres tall.",
            "It has heart-shaped leaves and fragrant yellowish flowers that attract bees.",
            "Tea made from dried linden flowers is a traditional remedy for colds.",
            "Linden wood is soft and easy to carve, which makes it popular with woodcarvers.",
            "Old lindens often stand in village squares where neighbours used to meet.",
        ),
    ),
    (
        "Common carp",
        (
            "The common carp is a freshwater fish raised in ponds.",
            "Pond farming has a long tradition in central Europe that goes back centuries.",
            "Carp feed on small creatures from the bottom and farmers add grain.",
            "Ponds are usually harvested in autumn, which attracts many spectators.",
            "An adult carp can weigh more than ten kilograms.",
        ),
    ),
    (
        "Potato",
        (
            "The potato is the tuber of a plant that originally comes from South America.",
            "It reached Europe in the sixteenth century.",
            "Potatoes contain a lot of starch and are easy to digest when cooked.",
            "They are used for soups, mash, pancakes and dumplings.",
            "Potatoes are planted in spring and harvested in late summer or autumn.",
        ),
    ),
    (
        "Honey bee",
        (
            "The honey bee is a social insect that lives in large colonies.",
            "Each colony is led by a queen who lays the eggs.",
            "Worker bees collect nectar and pollen and pollinate fruit trees.",
            "Bees turn nectar into honey and store it in wax combs.",
            "Without bees, harvests of fruit and many crops would be much smaller.",
        ),
    ),
    (
        "Bicycle",
        (
            "The bicycle is a vehicle powered by the rider's legs.",
            "The earliest bicycles had no pedals and riders pushed off the ground.",
            "Chain-driven bicycles similar to today's appeared in the late nineteenth century.",
            "Modern bicycles have gears that make climbing hills easier.",
            "Cyclists should wear a helmet and use lights after dark.",
        ),
    ),
    (
        "Coffee",
        (
            "Coffee is a drink made from the roasted and ground seeds of the coffee plant.",
            "The coffee plant comes from Africa and is now grown in many tropical countries.",
            "Coffee spread to Europe in the seventeenth century and coffee houses soon followed.",
            "Espresso is made by forcing hot water through finely ground coffee.",
            "The caffeine in coffee helps people feel more alert.",
        ),
    ),
    (
        "Guitar",
        (
            "The guitar is a plucked string instrument with a long neck and a fretboard.",
            "A classical guitar has six strings that are tuned by ear or with a tuner.",
            "It can be played with the fingers or with a pick.",
            "Chords are formed by pressing the strings against the fretboard.",
            "The guitar is popular around campfires because it is easy to carry.",
        ),
    ),
)
