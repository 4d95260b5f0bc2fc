"""Hand-written English phrase banks for the ``en_web`` sample folder: places and news.

Topics mirror the Czech banks (local news, how-to guides, encyclopedic entries) so the two
languages share subject matter for vocabulary-alignment experiments.

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

__all__ = [
    "EN_CONNECTORS",
    "EN_NAMES",
    "EN_NEWS_TOPICS",
    "EN_TOWNS",
]

EN_TOWNS: tuple[str, ...] = (
    "Millbrook",
    "Ashford Green",
    "Lower Hayton",
    "Kingsmere",
    "Oakridge",
    "Fenwick",
    "Stonebridge",
    "Marlow Heath",
    "Eastwick",
    "Thornbury Vale",
)

EN_NAMES: tuple[str, ...] = (
    "Sarah Miller",
    "James Carter",
    "Emily Hughes",
    "Daniel Brooks",
    "Laura Bennett",
    "Michael Turner",
    "Olivia Grant",
    "Thomas Reed",
    "Hannah Ward",
    "Peter Collins",
)

EN_CONNECTORS: tuple[str, ...] = ("Then", "After that", "Next", "Afterwards")

#: News topics: roles of quoted people, titles, leads, details, quotes (without final
#: punctuation) and closings.
EN_NEWS_TOPICS: tuple[dict[str, tuple[str, ...]], ...] = (
    {
        "roles": ("mayor", "project manager", "council spokesperson"),
        "titles": ("Main road in {town} to be resurfaced", "Drivers in {town} face detours"),
        "leads": (
            "Work to repair the main road through {town} will begin on {day}.",
            "The main road through the centre of {town} will be fully rebuilt this summer.",
        ),
        "details": (
            "Crews will first remove the old asphalt and replace damaged kerbs.",
            "New street lights and a safer crossing near the school are part of the plan.",
            "The road will be closed and traffic will follow a signed diversion.",
            "Buses will run to a temporary timetable while the work continues.",
            "The repairs are expected to cost around {n} million pounds.",
            "Residents will be able to reach their homes on foot only.",
        ),
        "quotes": (
            "We know the detour is inconvenient, but the road was in a terrible state",
            "If the weather holds, we will finish before the new school year",
        ),
        "closings": (
            "Updates on closures will be posted on the council website.",
            "The next phase of repairs is planned for next year.",
        ),
    },
    {
        "roles": ("fire chief", "mayor"),
        "titles": ("Storm damages roofs in {town}", "Heavy rain floods cellars in {town}"),
        "leads": (
            "A violent storm with hail swept through {town} on {day} evening.",
            "Firefighters in {town} answered dozens of calls after a sudden storm.",
        ),
        "details": (
            "Strong winds brought down trees and tore tiles from several roofs.",
            "Water from the fields flooded cellars and gardens in the lower part of town.",
            "A fallen tree blocked the road and cut the power line for several hours.",
            "Hailstones the size of cherries dented cars parked on the street.",
            "Nobody was seriously injured, officials said.",
            "Neighbours helped each other carry soaked belongings out of basements.",
        ),
        "quotes": (
            "Even the oldest residents cannot remember a storm like this",
            "We had more than twenty call-outs within a single hour",
        ),
        "closings": (
            "People whose property was damaged should contact their insurer.",
            "The clean-up is expected to take several more days.",
        ),
    },
    {
        "roles": ("club chairman", "mayor"),
        "titles": ("{town} prepares for its summer fair", "Hundreds enjoy the fair in {town}"),
        "leads": (
            "The traditional summer fair will take place in {town} on {day}.",
            "Local clubs have prepared a full programme for children and adults.",
        ),
        "details": (
            "A brass band will play on the green and a rock band will perform in the evening.",
            "Children can take part in sack races and have their faces painted.",
            "The craft market will offer pottery, woodwork and baskets.",
            "Volunteer firefighters will demonstrate their equipment.",
            "Entry is free and raffle money will go towards repairing the chapel.",
            "The evening will end with fireworks over the pond.",
        ),
        "quotes": (
            "The fair is the one day when every generation of the village comes together",
            "Preparations took months and the whole community joined in",
        ),
        "closings": (
            "If it rains, the programme will move into the village hall.",
            "The fair opens at ten in the morning.",
        ),
    },
    {
        "roles": ("head librarian", "mayor"),
        "titles": ("New library opens in {town}", "{town} library reopens after renovation"),
        "leads": (
            "After six months of renovation, the library in {town} reopens on {day}.",
            "Readers in {town} can now enjoy a brighter and more modern library.",
        ),
        "details": (
            "The library has new shelves, comfortable armchairs and a children's corner.",
            "Members can now borrow e-readers and board games as well as books.",
            "The collection holds around {n} thousand volumes.",
            "Story time for young children will take place every Thursday afternoon.",
            "Annual membership remains free for children.",
        ),
        "quotes": (
            "We want the library to be a place where people like to meet",
            "Interest in reading here is not falling, quite the opposite",
        ),
        "closings": (
            "The library is open on Tuesdays and Thursdays from one until six.",
            "Everyone is invited to the opening ceremony.",
        ),
    },
    {
        "roles": ("mayor", "project manager"),
        "titles": ("Cycle path to link {town} with its neighbour", "New cycle path completed"),
        "leads": (
            "Construction of a cycle path along the river near {town} will start in spring.",
            "Cyclists in {town} will no longer have to ride along the busy main road.",
        ),
        "details": (
            "The path will be about {n} kilometres long and three metres wide.",
            "Its smooth surface will also suit skaters and parents with pushchairs.",
            "Benches and bike racks will be placed along the route.",
            "The most difficult part of the project is a new footbridge over the stream.",
            "The route follows an old railway embankment between fields and meadows.",
        ),
        "quotes": (
            "People have waited years for this path and now it is finally happening",
            "The safety of cyclists and pedestrians was our priority",
        ),
        "closings": (
            "A map of the route is available at the town hall and online.",
            "Residents are invited to a group ride on the opening day.",
        ),
    },
)
