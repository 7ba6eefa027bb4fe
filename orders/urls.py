from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("products/<int:pk>/", views.product_detail, name="product"),
    path("orders/", views.my_orders, name="my_orders"),
    path("orders/<number:number>/", views.order_detail, name="order"),
    path("orders/<number:number>/pay/", views.pay, name="pay"),
    path("orders/<number:number>/reveal/", views.reveal, name="reveal"),
    path("orders/<number:number>/cancel/", views.cancel, name="cancel"),
]
