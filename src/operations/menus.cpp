// Dishes with ingredients, nutrition per portion and allergens, and daily menus per client
// unit with their nutrition and allergens summed up (菜品、食谱与营养, §6.2.1).
#include <algorithm>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "operations/internal.hpp"
#include "operations/operations.hpp"

namespace mingchu::operations {

namespace {

constexpr const char* kSelectDishes =
    "SELECT id, unit_id, jpath, name, ingredients, nutrition, allergens, at FROM op_dishes";
constexpr const char* kSelectMenus = "SELECT id, unit_id, jpath, client_name, day, meal, dishes, at FROM op_menus";

double num(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_number() ? it->value().to_number<double>() : 0;
}

Dish dish_from_row(const storage::Row& r) {
  Dish d;
  d.id = r.text(0);
  d.unit_id = r.text(1);
  d.jpath = r.text(2);
  d.name = r.text(3);
  if (auto v = parse_value(r.text(4)); v && v->is_array()) {
    for (const auto& e : v->as_array()) {
      if (!e.is_object()) continue;
      const auto& o = e.as_object();
      auto item = o.find("item");
      d.ingredients.push_back(
          {item != o.end() && item->value().is_string() ? std::string(item->value().as_string()) : "",
           num(o, "grams")});
    }
  }
  if (auto n = parse_object(r.text(5))) {
    d.nutrition = {num(*n, "energy_kcal"), num(*n, "protein_g"), num(*n, "fat_g"), num(*n, "carbohydrate_g"),
                   num(*n, "sodium_mg")};
  }
  d.allergens = detail::ids_from_json(r.text(6));
  d.at = r.integer(7);
  return d;
}

std::string dish_json(const std::vector<DishIngredient>& ing) {
  json::array a;
  for (const auto& i : ing) a.push_back(json::object{{"item", i.item}, {"grams", i.grams}});
  return json::serialize(a);
}

Menu menu_from_row(storage::Connection& c, const storage::Row& r) {
  Menu m;
  m.id = r.text(0);
  m.unit_id = r.text(1);
  m.jpath = r.text(2);
  m.client_name = r.text(3);
  m.day = static_cast<int>(r.integer(4));
  m.meal = r.text(5);
  m.at = r.integer(7);
  for (const auto& id : detail::ids_from_json(r.text(6))) {
    storage::Rows d = c.query(std::string(kSelectDishes) + " WHERE id = $1", {id});
    if (d.empty()) continue;
    Dish dish = dish_from_row(d[0]);
    m.nutrition.energy_kcal += dish.nutrition.energy_kcal;
    m.nutrition.protein_g += dish.nutrition.protein_g;
    m.nutrition.fat_g += dish.nutrition.fat_g;
    m.nutrition.carbohydrate_g += dish.nutrition.carbohydrate_g;
    m.nutrition.sodium_mg += dish.nutrition.sodium_mg;
    for (const auto& a : dish.allergens) {
      if (std::find(m.allergens.begin(), m.allergens.end(), a) == m.allergens.end()) m.allergens.push_back(a);
    }
    m.dishes.push_back(std::move(dish));
  }
  std::sort(m.allergens.begin(), m.allergens.end());
  return m;
}

}  // namespace

Result<Dish> Operations::create_dish(const auth::Principal& p, const DishInput& in) {
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::unit_in_scope(*c, p, in.unit_id);
  if (!unit) return detail::unknown_reference("unit_id", "unit");
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  Dish d;
  d.id = new_id("dish");
  d.unit_id = unit->id;
  d.jpath = unit->jpath;
  d.name = in.name;
  d.ingredients = in.ingredients;
  d.nutrition = in.nutrition;
  d.allergens = in.allergens;
  d.at = clock_.now_ms();
  json::object n{{"energy_kcal", d.nutrition.energy_kcal},
                 {"protein_g", d.nutrition.protein_g},
                 {"fat_g", d.nutrition.fat_g},
                 {"carbohydrate_g", d.nutrition.carbohydrate_g},
                 {"sodium_mg", d.nutrition.sodium_mg}};
  c->exec(
      "INSERT INTO op_dishes (id, unit_id, jpath, name, ingredients, nutrition, allergens, at) VALUES ($1, $2, $3, $4, "
      "$5, $6, $7, $8)",
      {d.id, d.unit_id, d.jpath, d.name, dish_json(d.ingredients), json::serialize(n), detail::ids_json(d.allergens),
       d.at});
  audit_.append(
      *c, auth::audit_entry(p, "dish.create", "dish:" + d.id, json::serialize(json::object{{"unit_id", d.unit_id}})));
  tx.commit();
  return d;
}

Result<Dish> Operations::get_dish(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("dish");
  storage::Conn c = db_.acquire();
  storage::Rows r = c->query(std::string(kSelectDishes) + " WHERE id = $1", {std::string(id)});
  if (r.empty() || !p.covers(r[0].text(2), r[0].text(1))) return Error::not_found("dish");
  return dish_from_row(r[0]);
}

Result<Page<Dish>> Operations::list_dishes(const auth::Principal& p, const ListFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  auto w = detail::list_where(*c, p, f, "at");
  Page<Dish> out;
  if (!w) return out;
  out.total = detail::capped_count(*c, *w, "op_dishes");
  for (const auto& r : w->page(*c, kSelectDishes, "at DESC, id", page)) out.items.push_back(dish_from_row(r));
  return out;
}

Result<Menu> Operations::create_menu(const auth::Principal& p, const MenuInput& in) {
  if (in.day > today() + 366) return Error::invalid("day", "too_far", "field 'day' is more than a year ahead");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::unit_in_scope(*c, p, in.unit_id);
  if (!unit) return detail::unknown_reference("unit_id", "unit");
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  for (size_t i = 0; i < in.dish_ids.size(); ++i) {
    storage::Rows d = c->query("SELECT unit_id FROM op_dishes WHERE id = $1", {in.dish_ids[i]});
    if (d.empty() || d[0].text(0) != unit->id) {
      return detail::unknown_reference("dish_ids[" + std::to_string(i) + "]", "dish");
    }
  }
  const std::string id = new_id("menu");
  const TimeMs now = clock_.now_ms();
  c->exec(
      "INSERT INTO op_menus (id, unit_id, jpath, client_name, day, meal, dishes, at) VALUES ($1, $2, $3, $4, $5, $6, "
      "$7, $8)",
      {id, unit->id, unit->jpath, in.client_name, std::int64_t{in.day}, in.meal, detail::ids_json(in.dish_ids), now});
  audit_.append(
      *c, auth::audit_entry(p, "menu.create", "menu:" + id, json::serialize(json::object{{"unit_id", unit->id}})));
  storage::Rows r = c->query(std::string(kSelectMenus) + " WHERE id = $1", {id});
  Menu m = menu_from_row(*c, r[0]);
  tx.commit();
  return m;
}

Result<Menu> Operations::get_menu(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("menu");
  storage::Conn c = db_.acquire();
  storage::Rows r = c->query(std::string(kSelectMenus) + " WHERE id = $1", {std::string(id)});
  if (r.empty() || !p.covers(r[0].text(2), r[0].text(1))) return Error::not_found("menu");
  return menu_from_row(*c, r[0]);
}

Result<Page<Menu>> Operations::list_menus(const auth::Principal& p, const MenuFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  auto w = detail::list_where(*c, p, f, "at");
  Page<Menu> out;
  if (!w) return out;
  if (f.day) w->add("day = {}", std::int64_t{*f.day});
  out.total = detail::capped_count(*c, *w, "op_menus");
  for (const auto& r : w->page(*c, kSelectMenus, "day DESC, meal, id", page)) out.items.push_back(menu_from_row(*c, r));
  return out;
}

}  // namespace mingchu::operations
